-- Sample Prosody configuration (bundled sample data for nkbackup's quickstart)
admins = { "admin@chat.example.org" }
modules_enabled = { "roster"; "saslauth"; "tls"; "mam"; "carbons" }
archive_expires_after = "90d"  -- the privacy policy's promise
VirtualHost "chat.example.org"
