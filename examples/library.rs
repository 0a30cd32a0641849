//! credrotate as a library: start the simulated identity provider, write a config and a
//! manifest, rotate, and read the summary. Run it with `cargo run --example library`.
//!
//! Against a real provider only the config changes (see examples/graph-profile.toml); the
//! sandbox is the rehearsal.

use std::os::unix::fs::PermissionsExt;

use credrotate::library::{rotate, Rotation};
use credrotate::sandbox::{Options, Sandbox};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sandbox = Sandbox::start(Options::default()).await?;
    let dir = tempfile::tempdir()?;

    // Secrets come from files (mode 0600) or the environment, never from the config itself.
    let token = dir.path().join("token");
    std::fs::write(&token, sandbox.token())?;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600))?;
    let config = dir.path().join("credrotate.toml");
    let toml = format!(
        "[providers.graph]\nkind = \"graph\"\nbase_url = \"{}\"\ntoken_file = \"{}\"\n",
        sandbox.graph_url(),
        token.display()
    );
    std::fs::write(&config, toml)?;
    let manifest = dir.path().join("users.csv");
    std::fs::write(&manifest, "user\nalice@example.test\nbob@example.test\n")?;

    // The new passwords are exported encrypted to this key (keep the identity to read them).
    let identity = age::x25519::Identity::generate();
    let rotated = rotate(Rotation {
        manifest,
        out: dir.path().join("out"),
        config,
        recipients: vec![identity.to_public().to_string()],
    })
    .await?;

    let totals = &rotated.summary.totals;
    println!(
        "{} of {} row(s) succeeded, {} failed, {} uncertain; exit code {}",
        totals.succeeded,
        rotated.summary.manifest_rows,
        totals.failed,
        totals.uncertain,
        rotated.exit_code
    );
    for file in &rotated.files {
        println!("  {}", file.display());
    }
    Ok(())
}
