//! Stored vectors, by the SHA-256 of their text (`text_embeddings`, one per tenant schema).

use diesel::sql_types::{Array, Bytea};
use diesel::{QueryResult, QueryableByName};
use diesel_async::RunQueryDsl;

use super::DIMENSIONS;
use crate::db::Connection;

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Bytea)]
    text_hash: Vec<u8>,
    #[diesel(sql_type = Bytea)]
    vector: Vec<u8>,
}

#[derive(QueryableByName)]
struct Hash {
    #[diesel(sql_type = Bytea)]
    text_hash: Vec<u8>,
}

/// Every stored text hash.
pub async fn hashes(conn: &mut Connection) -> QueryResult<Vec<Vec<u8>>> {
    let rows: Vec<Hash> = diesel::sql_query("SELECT text_hash FROM text_embeddings").load(conn).await?;
    Ok(rows.into_iter().map(|r| r.text_hash).collect())
}

/// Which of `hashes` have a stored vector.
pub async fn stored(conn: &mut Connection, hashes: &[Vec<u8>]) -> QueryResult<Vec<Vec<u8>>> {
    let rows: Vec<Hash> = diesel::sql_query("SELECT text_hash FROM text_embeddings WHERE text_hash = ANY($1)")
        .bind::<Array<Bytea>, _>(hashes)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.text_hash).collect())
}

/// The stored vectors of `hashes` (those that have one).
pub async fn vectors(conn: &mut Connection, hashes: &[Vec<u8>]) -> QueryResult<Vec<(Vec<u8>, Vec<f32>)>> {
    let rows: Vec<Stored> =
        diesel::sql_query("SELECT text_hash, vector FROM text_embeddings WHERE text_hash = ANY($1)")
            .bind::<Array<Bytea>, _>(hashes)
            .load(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let vector = r.vector.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (r.text_hash, vector)
        })
        .collect())
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
}

/// Counts the batches of vectors stored: a reader keeping vectors knows when to read again.
pub async fn version(conn: &mut Connection) -> QueryResult<i64> {
    let row: Version = diesel::sql_query("SELECT version FROM embedding_state").get_result(conn).await?;
    Ok(row.version)
}

/// Stores vectors; a text stored meanwhile by another server keeps its (identical) vector.
pub async fn insert(conn: &mut Connection, rows: &[(Vec<u8>, Vec<f32>)]) -> QueryResult<()> {
    let hashes: Vec<&[u8]> = rows.iter().map(|(h, _)| h.as_slice()).collect();
    let vectors: Vec<Vec<u8>> = rows
        .iter()
        .map(|(_, v)| {
            debug_assert_eq!(v.len(), DIMENSIONS);
            v.iter().flat_map(|x| x.to_le_bytes()).collect()
        })
        .collect();
    diesel::sql_query(
        "INSERT INTO text_embeddings (text_hash, vector) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
         ON CONFLICT (text_hash) DO NOTHING",
    )
    .bind::<Array<Bytea>, _>(hashes)
    .bind::<Array<Bytea>, _>(vectors)
    .execute(conn)
    .await?;
    diesel::sql_query("UPDATE embedding_state SET version = version + 1").execute(conn).await?;
    Ok(())
}

/// Forgets the vectors of texts nothing uses any more.
pub async fn forget(conn: &mut Connection, hashes: &[Vec<u8>]) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM text_embeddings WHERE text_hash = ANY($1)")
        .bind::<Array<Bytea>, _>(hashes)
        .execute(conn)
        .await
}
