//! Compressed text files, picked by extension as Hadoop's codecs are:
//! `.gz`, `.bz2`, `.zst`, `.xz` through DataFusion's decoders, and `.snappy`
//! (both the snappy framing format that Firehose and python-snappy write and
//! Hadoop's block format) through the `snap` crate.

use std::io::Read;

use bytes::Bytes;
use datafusion::common::{DataFusionError, Result};
use datafusion_datasource::file_compression_type::FileCompressionType;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

/// The codec of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Uncompressed, or one of DataFusion's streaming codecs.
    Streaming(FileCompressionType),
    Snappy,
}

/// The codec a file name implies.
pub fn codec_of(path: &str) -> Codec {
    let lower = path.to_ascii_lowercase();
    let streaming = if lower.ends_with(".gz") || lower.ends_with(".gzip") {
        FileCompressionType::GZIP
    } else if lower.ends_with(".bz2") {
        FileCompressionType::BZIP2
    } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
        FileCompressionType::ZSTD
    } else if lower.ends_with(".xz") {
        FileCompressionType::XZ
    } else if lower.ends_with(".snappy") || lower.ends_with(".sz") {
        return Codec::Snappy;
    } else {
        FileCompressionType::UNCOMPRESSED
    };
    Codec::Streaming(streaming)
}

/// The file name without its compression extension (`a.csv.gz` -> `a.csv`).
pub fn strip_codec_extension(name: &str) -> &str {
    match codec_of(name) {
        Codec::Streaming(c) if !c.is_compressed() => name,
        _ => name.rsplit_once('.').map_or(name, |(stem, _)| stem),
    }
}

impl Codec {
    pub const NONE: Codec = Codec::Streaming(FileCompressionType::UNCOMPRESSED);

    pub fn is_compressed(self) -> bool {
        match self {
            Codec::Streaming(c) => c.is_compressed(),
            Codec::Snappy => true,
        }
    }

    /// The decompressed bytes of a stream of file bytes.
    pub fn decompress_stream(
        self,
        input: BoxStream<'static, Result<Bytes>>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        match self {
            Codec::Streaming(c) => c.convert_stream(input),
            Codec::Snappy => Ok(futures::stream::once(async move {
                let compressed: Vec<Bytes> = input.try_collect().await?;
                let compressed = compressed.concat();
                Ok(Bytes::from(decompress_snappy(&compressed, usize::MAX)?))
            })
            .boxed()),
        }
    }

    /// Up to `limit` decompressed bytes from the start of a file, which may
    /// itself be only the file's first bytes: a truncated input ends the
    /// output instead of failing.
    pub fn decompress_prefix(self, input: Bytes, limit: usize) -> Result<Vec<u8>> {
        match self {
            Codec::Streaming(c) if !c.is_compressed() => {
                Ok(input.slice(..input.len().min(limit)).to_vec())
            }
            Codec::Streaming(c) => {
                let mut reader = c.convert_read(std::io::Cursor::new(input))?;
                let mut out = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                while out.len() < limit {
                    match reader.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => out.extend_from_slice(&chunk[..n]),
                        // The sample ended mid-stream: keep what was decoded.
                        Err(_) if !out.is_empty() => break,
                        Err(e) => return Err(DataFusionError::External(Box::new(e))),
                    }
                }
                out.truncate(limit);
                Ok(out)
            }
            Codec::Snappy => decompress_snappy(&input, limit),
        }
    }
}

const SNAPPY_FRAME_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Framing format when the stream identifier is there, else Hadoop's blocks
/// (`[u32 raw length] ([u32 chunk length] chunk)*` repeated).
fn decompress_snappy(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let corrupt = |what: String| {
        DataFusionError::Execution(format!(
            "snappy data is corrupt ({what}); nuage reads the snappy framing format and Hadoop's SnappyCodec blocks"
        ))
    };
    let mut out = Vec::new();
    if input.starts_with(SNAPPY_FRAME_MAGIC) {
        let mut reader = snap::read::FrameDecoder::new(input);
        let mut chunk = vec![0u8; 64 * 1024];
        while out.len() < limit {
            match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(_) if limit != usize::MAX && !out.is_empty() => break,
                Err(e) => return Err(corrupt(e.to_string())),
            }
        }
        out.truncate(limit);
        return Ok(out);
    }
    let mut decoder = snap::raw::Decoder::new();
    let mut pos = 0;
    let read_u32 = |pos: usize| -> Option<usize> {
        input
            .get(pos..pos + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    while pos < input.len() && out.len() < limit {
        let Some(raw_len) = read_u32(pos) else {
            break;
        };
        pos += 4;
        let block_end = out.len() + raw_len;
        while out.len() < block_end {
            let Some(chunk_len) = read_u32(pos) else {
                break;
            };
            pos += 4;
            let Some(chunk) = input.get(pos..pos + chunk_len) else {
                if limit != usize::MAX {
                    return Ok(out);
                }
                return Err(corrupt("a block is cut short".into()));
            };
            pos += chunk_len;
            let decoded = decoder
                .decompress_vec(chunk)
                .map_err(|e| corrupt(e.to_string()))?;
            out.extend_from_slice(&decoded);
        }
    }
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snappy_both_layouts() {
        let text = b"a,b\n1,2\n".repeat(1000);
        let mut framed = Vec::new();
        {
            use std::io::Write;
            let mut w = snap::write::FrameEncoder::new(&mut framed);
            w.write_all(&text).unwrap();
        }
        assert_eq!(decompress_snappy(&framed, usize::MAX).unwrap(), text);
        let chunk = snap::raw::Encoder::new().compress_vec(&text).unwrap();
        let mut hadoop = (text.len() as u32).to_be_bytes().to_vec();
        hadoop.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        hadoop.extend_from_slice(&chunk);
        assert_eq!(decompress_snappy(&hadoop, usize::MAX).unwrap(), text);
        assert_eq!(decompress_snappy(&hadoop, 10).unwrap(), &text[..10]);
    }

    #[test]
    fn names() {
        assert_eq!(strip_codec_extension("a.csv.gz"), "a.csv");
        assert_eq!(strip_codec_extension("a.json"), "a.json");
        assert_eq!(codec_of("x.snappy"), Codec::Snappy);
    }
}
