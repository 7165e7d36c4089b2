//! Reading what the gateway mailed: the outbox files (`data_dir/outbox/*.eml`) or the
//! files the loopback SMTP sink (`tests/smtp_sink.py`) writes, and the links in them.

use std::path::Path;
use std::time::Duration;

use base64::Engine;

/// The messages in `dir`, oldest first, with their parts' transfer encodings undone.
pub fn messages(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
        .iter()
        .map(|p| decode(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

/// Waits (up to 10 s) until `dir` holds at least `n` messages, and returns them.
pub async fn wait_for(dir: &Path, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let found = messages(dir);
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} never held {n} messages: {:?}",
        dir.display(),
        messages(dir)
    );
}

/// The first `http…` URL in `message` whose path starts with `path`.
pub fn link(message: &str, path: &str) -> Option<String> {
    message
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find_map(|w| {
            let at = w.find("http")?;
            let url = &w[at..];
            let parsed = url::Url::parse(url).ok()?;
            parsed.path().starts_with(path).then(|| url.to_string())
        })
}

/// The message with quoted-printable soft breaks and escapes, and base64 bodies, decoded
/// (enough for the links and texts the tests look for).
fn decode(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut out = String::new();
    for part in raw.split("\n\n") {
        let trimmed: String = part.lines().collect();
        let is_b64 = !trimmed.is_empty()
            && trimmed.len().is_multiple_of(4)
            && trimmed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
        match base64::engine::general_purpose::STANDARD.decode(&trimmed) {
            Ok(bytes) if is_b64 && trimmed.len() > 16 => {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
            _ => out.push_str(&quoted_printable(part)),
        }
        out.push_str("\n\n");
    }
    out
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if bytes[i] == b'='
            && let Some(b) = hex
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
