//! The `stytch-emulator` binary starts, prints its settings and answers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Kills the child even if an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_settings_and_serves_the_jwks() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_stytch-emulator"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--project-id",
                "project-test-binary",
                "--secret",
                "secret-test-binary",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("binary spawns"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(3)
            .collect::<Result<Vec<_>, _>>()
            .expect("three lines")
    })
    .await
    .expect("reader");
    let url = lines[0]
        .strip_prefix("STYTCH_API_URL=")
        .expect("url line")
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    assert_eq!(lines[1], "STYTCH_PROJECT_ID=project-test-binary");
    assert_eq!(lines[2], "STYTCH_SECRET=secret-test-binary");

    let res = reqwest::get(format!("{url}/v1/sessions/jwks/project-test-binary"))
        .await
        .expect("GET jwks");
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["keys"].as_array().map(Vec::len), Some(1));
}

#[test]
fn binary_help_and_bad_arguments() {
    let help = Command::new(env!("CARGO_BIN_EXE_stytch-emulator"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--listen"));
    let bad = Command::new(env!("CARGO_BIN_EXE_stytch-emulator"))
        .arg("--bogus")
        .arg("x")
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}
