//! The embedded default mailer: each message becomes one `.eml` file in a directory
//! (`data_dir/outbox/`) and a log line naming it, so a gateway without a relay still works
//! and shows exactly what it would have sent. Files appear whole: each is written under a
//! temporary name and renamed into place, so a reader (a person, a test) never sees half
//! a message.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{MailError, Mailer};

/// Writes messages into a directory.
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox in `dir` (created at the first message).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn write(&self, bytes: &[u8]) -> Result<PathBuf, MailError> {
        let io = |path: &std::path::Path| {
            let path = path.display().to_string();
            move |source| MailError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        // Sortable by time, unique by its random part.
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            crate::secrets::hex(&crate::secrets::random_bytes::<6>())
        );
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            // Messages hold one-time links: readable by the gateway's user only.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        Ok(path)
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: &lettre::Message) -> Result<(), MailError> {
        let bytes = message.formatted();
        let outbox = Outbox::new(self.dir.clone());
        let path = tokio::task::spawn_blocking(move || outbox.write(&bytes))
            .await
            .map_err(|e| MailError::Io {
                path: self.dir.display().to_string(),
                source: std::io::Error::other(e),
            })??;
        tracing::info!(file = %path.display(), "mail written to the outbox (no smtp_url)");
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "outbox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_message_is_one_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        let message = lettre::Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .subject("hi")
            .body("body".to_string())
            .unwrap();
        outbox.send(&message).await.unwrap();
        outbox.send(&message).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2, "{files:?}");
        for f in files {
            assert_eq!(f.extension().unwrap(), "eml");
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                text.contains("Subject: hi") && text.ends_with("body"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn an_unwritable_outbox_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let outbox = Outbox::new(file);
        let message = lettre::Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .body(String::new())
            .unwrap();
        assert!(matches!(
            outbox.send(&message).await,
            Err(MailError::Io { .. })
        ));
    }
}
