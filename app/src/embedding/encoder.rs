//! The MiniLM-L6 sentence encoder (`sentence-transformers/all-MiniLM-L6-v2`): a six-layer BERT
//! whose token outputs are averaged and scaled to length 1, so the cosine similarity of two
//! texts is the dot product of their vectors. Plain `f32` arithmetic on the CPU; the matrix
//! products go through `matrixmultiply`, which picks the processor's vector instructions.

use std::collections::HashMap;

use super::tokenizer::Tokenizer;

/// The length of a text's vector.
pub const DIMENSIONS: usize = 384;
const HEADS: usize = 12;
const HEAD_SIZE: usize = DIMENSIONS / HEADS;
const LAYERS: usize = 6;
const INTERMEDIATE: usize = 1536;
const LAYER_NORM_EPSILON: f32 = 1e-12;
/// The model's own limit (`max_seq_length`); longer texts are cut.
pub const MAX_TOKENS: usize = 256;

pub struct Encoder {
    tokenizer: Tokenizer,
    words: Vec<f32>,
    positions: Vec<f32>,
    /// Every text is a single segment: only the first token type's row is used.
    segment: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

struct Linear {
    /// `outputs × inputs`, row-major, as PyTorch stores it.
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The tensors of a `.safetensors` file, by name (only `F32` ones are read).
struct Tensors {
    bytes: Vec<u8>,
    header: HashMap<String, serde_json::Value>,
    data_start: usize,
}

impl Tensors {
    fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        let length = bytes.get(..8).ok_or("the weights file is empty")?;
        let length = u64::from_le_bytes(length.try_into().expect("eight bytes")) as usize;
        let header = bytes.get(8..8 + length).ok_or("the weights file is cut short")?;
        let header = serde_json::from_slice(header).map_err(|e| format!("weights header: {e}"))?;
        Ok(Self { bytes, header, data_start: 8 + length })
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let entry = self.header.get(name).ok_or_else(|| format!("the weights lack {name}"))?;
        let dtype = entry["dtype"].as_str().unwrap_or_default();
        let found: Vec<usize> = entry["shape"]
            .as_array()
            .map(|dims| dims.iter().filter_map(|d| d.as_u64()).map(|d| d as usize).collect())
            .unwrap_or_default();
        if dtype != "F32" || found != shape {
            return Err(format!("{name} is {dtype} {found:?}, expected F32 {shape:?}"));
        }
        let offsets = &entry["data_offsets"];
        let (start, end) = (offsets[0].as_u64(), offsets[1].as_u64());
        let (Some(start), Some(end)) = (start, end) else {
            return Err(format!("{name} has no data offsets"));
        };
        let (start, end) = (self.data_start + start as usize, self.data_start + end as usize);
        let raw = self.bytes.get(start..end).ok_or_else(|| format!("{name} lies outside the file"))?;
        if raw.len() != shape.iter().product::<usize>() * 4 {
            return Err(format!("{name} has the wrong length"));
        }
        Ok(raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("four bytes"))).collect())
    }

    fn linear(&self, name: &str, inputs: usize, outputs: usize) -> Result<Linear, String> {
        Ok(Linear {
            weight: self.get(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: self.get(&format!("{name}.bias"), &[outputs])?,
            inputs,
            outputs,
        })
    }

    fn layer_norm(&self, name: &str) -> Result<LayerNorm, String> {
        Ok(LayerNorm {
            weight: self.get(&format!("{name}.weight"), &[DIMENSIONS])?,
            bias: self.get(&format!("{name}.bias"), &[DIMENSIONS])?,
        })
    }
}

impl Encoder {
    /// Builds the encoder from the model's `model.safetensors` and `vocab.txt`.
    pub fn load(weights: Vec<u8>, vocabulary: &str) -> Result<Self, String> {
        let tensors = Tensors::parse(weights)?;
        let tokenizer = Tokenizer::from_vocabulary(vocabulary)?;
        let vocabulary_size = 30522;
        let layers = (0..LAYERS)
            .map(|n| {
                let at = |part: &str| format!("encoder.layer.{n}.{part}");
                Ok(Layer {
                    query: tensors.linear(&at("attention.self.query"), DIMENSIONS, DIMENSIONS)?,
                    key: tensors.linear(&at("attention.self.key"), DIMENSIONS, DIMENSIONS)?,
                    value: tensors.linear(&at("attention.self.value"), DIMENSIONS, DIMENSIONS)?,
                    attention_output: tensors.linear(&at("attention.output.dense"), DIMENSIONS, DIMENSIONS)?,
                    attention_norm: tensors.layer_norm(&at("attention.output.LayerNorm"))?,
                    intermediate: tensors.linear(&at("intermediate.dense"), DIMENSIONS, INTERMEDIATE)?,
                    output: tensors.linear(&at("output.dense"), INTERMEDIATE, DIMENSIONS)?,
                    output_norm: tensors.layer_norm(&at("output.LayerNorm"))?,
                })
            })
            .collect::<Result<_, String>>()?;
        let mut segment = tensors.get("embeddings.token_type_embeddings.weight", &[2, DIMENSIONS])?;
        segment.truncate(DIMENSIONS);
        Ok(Self {
            words: tensors.get("embeddings.word_embeddings.weight", &[vocabulary_size, DIMENSIONS])?,
            positions: tensors.get("embeddings.position_embeddings.weight", &[512, DIMENSIONS])?,
            segment,
            embedding_norm: tensors.layer_norm("embeddings.LayerNorm")?,
            layers,
            tokenizer,
        })
    }

    /// The text's unit-length vector.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        let ids = self.tokenizer.encode(text, MAX_TOKENS);
        let tokens = ids.len();
        let mut hidden = vec![0.0; tokens * DIMENSIONS];
        for (position, (&id, row)) in ids.iter().zip(hidden.chunks_exact_mut(DIMENSIONS)).enumerate() {
            let word = &self.words[id as usize * DIMENSIONS..][..DIMENSIONS];
            let place = &self.positions[position * DIMENSIONS..][..DIMENSIONS];
            for (i, value) in row.iter_mut().enumerate() {
                *value = word[i] + place[i] + self.segment[i];
            }
        }
        self.embedding_norm.apply(&mut hidden);
        let mut scratch = Scratch::new(tokens);
        for layer in &self.layers {
            layer.apply(&mut hidden, tokens, &mut scratch);
        }
        let mut pooled = vec![0.0; DIMENSIONS];
        for row in hidden.chunks_exact(DIMENSIONS) {
            for (sum, value) in pooled.iter_mut().zip(row) {
                *sum += value;
            }
        }
        let length = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        pooled.iter_mut().for_each(|v| *v /= length);
        pooled
    }
}

/// Buffers reused across a text's layers.
struct Scratch {
    query: Vec<f32>,
    key: Vec<f32>,
    value: Vec<f32>,
    context: Vec<f32>,
    scores: Vec<f32>,
    projected: Vec<f32>,
    intermediate: Vec<f32>,
}

impl Scratch {
    fn new(tokens: usize) -> Self {
        let hidden = || vec![0.0; tokens * DIMENSIONS];
        Self {
            query: hidden(),
            key: hidden(),
            value: hidden(),
            context: hidden(),
            scores: vec![0.0; tokens * tokens],
            projected: hidden(),
            intermediate: vec![0.0; tokens * INTERMEDIATE],
        }
    }
}

impl Layer {
    fn apply(&self, hidden: &mut [f32], tokens: usize, s: &mut Scratch) {
        self.query.apply(hidden, tokens, &mut s.query);
        self.key.apply(hidden, tokens, &mut s.key);
        self.value.apply(hidden, tokens, &mut s.value);
        let scale = 1.0 / (HEAD_SIZE as f32).sqrt();
        for head in 0..HEADS {
            let at = head * HEAD_SIZE;
            // scores = q_h · k_hᵀ, each head's columns read in place from the full rows.
            // SAFETY: the shapes and strides below stay inside the buffers: q and k are
            // tokens × DIMENSIONS, scores tokens × tokens, context tokens × DIMENSIONS.
            unsafe {
                matrixmultiply::sgemm(
                    tokens,
                    HEAD_SIZE,
                    tokens,
                    scale,
                    s.query[at..].as_ptr(),
                    DIMENSIONS as isize,
                    1,
                    s.key[at..].as_ptr(),
                    1,
                    DIMENSIONS as isize,
                    0.0,
                    s.scores.as_mut_ptr(),
                    tokens as isize,
                    1,
                );
            }
            for row in s.scores.chunks_exact_mut(tokens) {
                softmax(row);
            }
            // SAFETY: as above.
            unsafe {
                matrixmultiply::sgemm(
                    tokens,
                    tokens,
                    HEAD_SIZE,
                    1.0,
                    s.scores.as_ptr(),
                    tokens as isize,
                    1,
                    s.value[at..].as_ptr(),
                    DIMENSIONS as isize,
                    1,
                    0.0,
                    s.context[at..].as_mut_ptr(),
                    DIMENSIONS as isize,
                    1,
                );
            }
        }
        self.attention_output.apply(&s.context, tokens, &mut s.projected);
        add(hidden, &s.projected);
        self.attention_norm.apply(hidden);
        self.intermediate.apply(hidden, tokens, &mut s.intermediate);
        s.intermediate.iter_mut().for_each(|v| *v = gelu(*v));
        self.output.apply(&s.intermediate, tokens, &mut s.projected);
        add(hidden, &s.projected);
        self.output_norm.apply(hidden);
    }
}

impl Linear {
    /// `out = x · weightᵀ + bias` for `rows` rows of `x`.
    fn apply(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        assert!(x.len() >= rows * self.inputs && out.len() >= rows * self.outputs);
        for row in out.chunks_exact_mut(self.outputs).take(rows) {
            row.copy_from_slice(&self.bias);
        }
        // SAFETY: x is rows × inputs, the weight outputs × inputs (read transposed through
        // its strides), out rows × outputs, as asserted above.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                self.inputs,
                self.outputs,
                1.0,
                x.as_ptr(),
                self.inputs as isize,
                1,
                self.weight.as_ptr(),
                1,
                self.inputs as isize,
                1.0,
                out.as_mut_ptr(),
                self.outputs as isize,
                1,
            );
        }
    }
}

impl LayerNorm {
    fn apply(&self, hidden: &mut [f32]) {
        for row in hidden.chunks_exact_mut(DIMENSIONS) {
            let mean = row.iter().sum::<f32>() / DIMENSIONS as f32;
            let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / DIMENSIONS as f32;
            let scale = 1.0 / (variance + LAYER_NORM_EPSILON).sqrt();
            for (i, value) in row.iter_mut().enumerate() {
                *value = (*value - mean) * scale * self.weight[i] + self.bias[i];
            }
        }
    }
}

fn add(into: &mut [f32], values: &[f32]) {
    into.iter_mut().zip(values).for_each(|(a, b)| *a += b);
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for value in row.iter_mut() {
        *value = (*value - max).exp();
        sum += *value;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

/// BERT's exact GELU, x·Φ(x).
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
}

/// The error function, from the complementary one's Chebyshev fit (Numerical Recipes'
/// `erfcc`, fractional error below 1.2e-7): precise enough for an activation.
fn erf(x: f32) -> f32 {
    let z = f64::from(x).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let complement = t * poly.exp();
    (if x >= 0.0 { 1.0 - complement } else { complement - 1.0 }) as f32
}
