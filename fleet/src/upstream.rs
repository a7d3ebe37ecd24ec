//! The nginx side of the fleet: the upstream server list lives in its own
//! file, included by the upstream block, and is rewritten atomically (write,
//! then rename) before nginx is told to reload. nginx's reload is graceful:
//! old workers finish their requests while new ones use the new list.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

/// How each server line marks failures. A replica refusing connections is
/// skipped for `fail_timeout` after `max_fails` errors within it.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The file the nginx upstream block includes.
    pub file: PathBuf,
    /// Shell command that makes nginx re-read its configuration; empty means
    /// nginx is not managed (tests, or a fleet without a balancer).
    pub reload_command: String,
    pub max_fails: u32,
    pub fail_timeout: Duration,
}

/// The server lines for the given ports, in a stable order.
pub fn render(ports: &[u16], max_fails: u32, fail_timeout: Duration) -> String {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let mut out = String::from("# Written by kurz-fleet; replaced on every change.\n");
    for port in ports {
        out.push_str(&format!(
            "server 127.0.0.1:{port} max_fails={max_fails} fail_timeout={}s;\n",
            fail_timeout.as_secs().max(1)
        ));
    }
    out
}

impl Upstream {
    /// Writes the list and reloads nginx. An empty list is refused: nginx
    /// rejects an upstream without servers, and a fleet with no replica in
    /// service keeps the last list (requests fail over to none either way).
    pub async fn apply(&self, ports: &[u16]) -> anyhow::Result<()> {
        if ports.is_empty() {
            bail!("refusing to write an upstream without servers");
        }
        let text = render(ports, self.max_fails, self.fail_timeout);
        let tmp = self.file.with_extension("tmp");
        tokio::fs::write(&tmp, text)
            .await
            .with_context(|| format!("writing {}", tmp.display()))?;
        tokio::fs::rename(&tmp, &self.file)
            .await
            .with_context(|| format!("replacing {}", self.file.display()))?;
        self.reload().await
    }

    async fn reload(&self) -> anyhow::Result<()> {
        if self.reload_command.trim().is_empty() {
            return Ok(());
        }
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.reload_command)
            .output()
            .await
            .context("running the reload command")?;
        if !out.status.success() {
            bail!(
                "reload command failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sorted_deduplicated_and_marked() {
        let text = render(&[18102, 18101, 18102], 3, Duration::from_secs(2));
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            vec![
                "server 127.0.0.1:18101 max_fails=3 fail_timeout=2s;",
                "server 127.0.0.1:18102 max_fails=3 fail_timeout=2s;",
            ]
        );
    }

    #[tokio::test]
    async fn apply_replaces_the_file_and_refuses_an_empty_list() {
        let dir = std::env::temp_dir().join(format!("kurz-fleet-upstream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("reloaded");
        let upstream = Upstream {
            file: dir.join("servers.conf"),
            reload_command: format!("touch {}", marker.display()),
            max_fails: 3,
            fail_timeout: Duration::from_secs(2),
        };
        upstream.apply(&[18101]).await.unwrap();
        assert!(marker.exists(), "the reload command ran");
        let before = std::fs::read_to_string(&upstream.file).unwrap();
        assert!(upstream.apply(&[]).await.is_err());
        assert_eq!(std::fs::read_to_string(&upstream.file).unwrap(), before);
        let failing = Upstream {
            reload_command: "exit 3".into(),
            ..upstream
        };
        assert!(failing.apply(&[18101]).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
