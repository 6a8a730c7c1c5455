//! Vectors kept in memory for search: each stored as bytes (`i8` with one scale per vector),
//! a quarter of `f32`'s size — 100,000 vectors take 39 MB — and dot products within about 1%.

use super::DIMENSIONS;

/// Vectors by position (a company or an entity in its index's order); a position may have none.
#[derive(Default)]
pub struct VectorSet {
    values: Vec<i8>,
    scales: Vec<f32>,
    present: Vec<bool>,
}

impl VectorSet {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            values: Vec::with_capacity(n * DIMENSIONS),
            scales: Vec::with_capacity(n),
            present: Vec::with_capacity(n),
        }
    }

    /// Adds the next position's vector (`None`: not embedded yet, or no text).
    pub fn push(&mut self, vector: Option<&[f32]>) {
        match vector.filter(|v| v.len() == DIMENSIONS) {
            Some(vector) => {
                let largest = vector.iter().fold(0.0_f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
                let scale = largest / 127.0;
                self.values.extend(vector.iter().map(|v| (v / scale).round() as i8));
                self.scales.push(scale);
                self.present.push(true);
            }
            None => {
                self.values.extend(std::iter::repeat_n(0, DIMENSIONS));
                self.scales.push(0.0);
                self.present.push(false);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.present.len()
    }

    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    /// How many positions have a vector.
    pub fn embedded(&self) -> usize {
        self.present.iter().filter(|p| **p).count()
    }

    /// The vector at `at`, restored to `f32`.
    pub fn get(&self, at: usize) -> Option<Vec<f32>> {
        self.present.get(at).copied().filter(|p| *p)?;
        let scale = self.scales[at];
        Some(self.row(at).iter().map(|v| f32::from(*v) * scale).collect())
    }

    /// The cosine similarity of `query` (unit length) and the vector at `at`.
    pub fn similarity(&self, query: &[f32], at: usize) -> Option<f32> {
        self.present.get(at).copied().filter(|p| *p)?;
        let dot: f32 = self.row(at).iter().zip(query).map(|(v, q)| f32::from(*v) * q).sum();
        Some(dot * self.scales[at])
    }

    /// The `k` positions closest to `query`, closest first, among those `keep` accepts. The
    /// query is quantised like the stored vectors, so the scan multiplies bytes: 100,000
    /// vectors in about 5 ms.
    pub fn nearest(&self, query: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<(usize, f32)> {
        let largest = query.iter().fold(0.0_f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
        let query_scale = largest / 127.0;
        let quantised: Vec<i8> = query.iter().map(|v| (v / query_scale).round() as i8).collect();
        let mut found: Vec<(usize, f32)> = (0..self.len())
            .filter(|&at| self.present[at] && keep(at))
            .map(|at| {
                let dot = dot_bytes(self.row(at), &quantised);
                (at, dot as f32 * self.scales[at] * query_scale)
            })
            .collect();
        let k = k.min(found.len());
        if k == 0 {
            return Vec::new();
        }
        found.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        found.truncate(k);
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found
    }

    fn row(&self, at: usize) -> &[i8] {
        &self.values[at * DIMENSIONS..][..DIMENSIONS]
    }
}

const _: () = assert!(DIMENSIONS.is_multiple_of(16), "dot_bytes sums whole chunks of 16");

/// The dot product of two byte vectors, summed in 16 lanes the compiler keeps in vector
/// registers (a plain sum runs at a third of the speed). `DIMENSIONS` is a multiple of 16.
fn dot_bytes(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0_i32; 16];
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for ((lane, a), b) in lanes.iter_mut().zip(x).zip(y) {
            *lane += i32::from(*a) * i32::from(*b);
        }
    }
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u32) -> Vec<f32> {
        let raw: Vec<f32> =
            (0..DIMENSIONS as u32).map(|i| ((i * 7919 + seed * 104_729) % 1000) as f32 - 500.0).collect();
        let length = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        raw.into_iter().map(|v| v / length).collect()
    }

    #[test]
    fn similarities_survive_the_bytes_and_missing_vectors_are_skipped() {
        let (a, b) = (unit(1), unit(2));
        let mut set = VectorSet::with_capacity(3);
        set.push(Some(&a));
        set.push(None);
        set.push(Some(&b));
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((set.similarity(&a, 2).unwrap() - exact).abs() < 0.01);
        assert!((set.similarity(&a, 0).unwrap() - 1.0).abs() < 0.01);
        assert_eq!(set.similarity(&a, 1), None);
        assert_eq!(set.embedded(), 2);
        let nearest = set.nearest(&a, 5, |_| true);
        assert_eq!(nearest.iter().map(|n| n.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(set.nearest(&a, 5, |at| at != 0).len(), 1);
    }
}
