//! The printable recovery sheet.
//!
//! One HTML page to print and put in a safe: the key in Matrix encoding and
//! as an age identity, a QR code of the key, the repository id, the key id,
//! the date, and the break-glass steps. It is the only place nkbackup ever
//! writes the key, and only when asked (`recovery-key new --sheet FILE`).

use crate::recovery::RecoveryKey;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// What the sheet says besides the key.
#[derive(Debug, Clone)]
pub struct SheetInfo {
    /// The repository id from nkbackup.toml.
    pub repository_id: String,
    /// Where the repository lives (as the operator knows it).
    pub repository_path: String,
    /// Creation date (RFC 3339).
    pub created: String,
}

/// Renders the sheet as a self-contained HTML page (the QR code is inline
/// SVG). The result holds the key: it is zeroized when dropped.
pub fn render_html(key: &RecoveryKey, info: &SheetInfo) -> Zeroizing<String> {
    let encoded: SecretString = key.to_encoded();
    let age_form: SecretString = key.export_age();
    let qr = qrcode::QrCode::with_error_correction_level(
        encoded.expose_secret().as_bytes(),
        qrcode::EcLevel::M,
    )
    .map(|c| {
        c.render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .build()
    })
    .unwrap_or_default();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    Zeroizing::new(format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>nkbackup recovery key {key_id}</title>
<style>
body {{ font-family: sans-serif; max-width: 44em; margin: 2em auto; }}
.key {{ font-family: monospace; font-size: 1.5em; letter-spacing: .05em; border: 2px solid #000; padding: .6em; }}
.age {{ font-family: monospace; font-size: .9em; word-break: break-all; }}
td {{ padding: .2em 1em .2em 0; vertical-align: top; }}
</style></head><body>
<h1>nkbackup recovery key</h1>
<p><strong>Keep this page offline, in a safe place.</strong> Anyone holding it can open every
backup of this repository sealed since {created}. nkbackup does not keep a copy.</p>
<table>
<tr><td>Repository</td><td>{repo_path}</td></tr>
<tr><td>Repository id</td><td><code>{repo_id}</code></td></tr>
<tr><td>Key id</td><td><code>{key_id}</code></td></tr>
<tr><td>Created</td><td>{created}</td></tr>
</table>
<h2>Recovery key</h2>
<p class="key">{encoded}</p>
<div>{qr}</div>
<h2>The same key as an age identity</h2>
<p class="age">{age_form}</p>
<h2>Break glass: restoring without nkbackup</h2>
<ol>
<li>On any machine with <code>age</code>, <code>zstd</code> and <code>tar</code>, write the age identity above into a file
<code>key.txt</code> (one line, starting <code>AGE-SECRET-KEY-1</code>).</li>
<li>For each backup <code>backups/CLASS/ID.age</code> of the repository:
<pre>age -d -i key.txt ID.age | zstd -d | tar -x</pre>
(for classes with <code>compression = "none"</code>: <code>age -d -i key.txt ID.age | tar -x</code>).</li>
<li>With nkbackup at hand instead: <code>nkbackup restore --repo REPO ID --to DIR --recovery-key</code>
and type the key above when asked; <code>nkbackup recovery-key check --repo REPO</code> confirms a typed key
without opening any backup.</li>
<li>Delete <code>key.txt</code> afterwards.</li>
</ol>
</body></html>
"#,
        key_id = key.key_id(),
        created = esc(&info.created),
        repo_path = esc(&info.repository_path),
        repo_id = esc(&info.repository_id),
        encoded = encoded.expose_secret(),
        age_form = age_form.expose_secret(),
    ))
}

/// A sheet file reserved before the key is made (so a path that cannot
/// be written fails before anything is committed) and filled only with a
/// committed key. Dropped unfilled — the commit failed — it is removed.
pub struct SheetFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl SheetFile {
    /// Creates `path`, which must not exist, readable by its owner only.
    pub fn reserve(path: &std::path::Path) -> crate::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                crate::Error::io(
                    format!(
                        "cannot create the sheet {} (it must not exist yet)",
                        path.display()
                    ),
                    e,
                )
            })?;
        Ok(SheetFile {
            path: path.to_owned(),
            file: Some(file),
        })
    }

    /// Writes the sheet of `made`, the key `repo` has just committed.
    pub fn write(
        mut self,
        repo: &crate::Repository,
        made: &crate::enroll::NewRecoveryKey,
    ) -> crate::Result<()> {
        use std::io::Write;
        let html = render_html(
            made.key(),
            &SheetInfo {
                repository_id: repo.config().repository.id.clone(),
                repository_path: repo.location().to_owned(),
                created: made.config().created.clone(),
            },
        );
        let mut f = self.file.take().expect("written once");
        let written = f.write_all(html.as_bytes()).and_then(|_| f.sync_all());
        if written.is_err() {
            // A torn sheet must not look like a sheet.
            let _ = std::fs::remove_file(&self.path);
        }
        written.map_err(|e| crate::Error::io(format!("writing {}", self.path.display()), e))
    }
}

impl Drop for SheetFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_holds_key_forms_qr_and_steps() {
        let k = RecoveryKey::generate();
        let html = render_html(
            &k,
            &SheetInfo {
                repository_id: "abc123".into(),
                repository_path: "/srv/<backups>".into(),
                created: "2026-11-22T05:00:00Z".into(),
            },
        );
        assert!(html.contains(k.to_encoded().expose_secret()));
        assert!(html.contains(k.export_age().expose_secret()));
        assert!(html.contains(&k.key_id().to_string()));
        assert!(html.contains("<svg"), "QR code present");
        assert!(html.contains("/srv/&lt;backups&gt;"), "escaped");
        assert!(html.contains("zstd -d | tar -x"));
    }
}
