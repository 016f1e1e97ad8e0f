//! `stytch-emulator`: runs the emulator until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use stytch_emulator::Emulator;

const USAGE: &str = "\
Usage: stytch-emulator [--listen ADDR] [--project-id ID] [--secret SECRET]

Runs an offline Stytch-compatible API server until Ctrl-C.

  --listen ADDR       address to bind (default 127.0.0.1:8787; port 0 picks a free port)
  --project-id ID     project id (default: project-test-<uuid>)
  --secret SECRET     project secret (default: random)
  -h, --help          show this help

Prints STYTCH_API_URL, STYTCH_PROJECT_ID and STYTCH_SECRET, one per line.";

#[tokio::main]
async fn main() -> ExitCode {
    let mut builder = Emulator::builder().listen(SocketAddr::from(([127, 0, 0, 1], 8787)));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        let Some(value) = inline.or_else(|| args.next()) else {
            eprintln!("error: {flag} needs a value\n\n{USAGE}");
            return ExitCode::from(2);
        };
        builder = match flag.as_str() {
            "--listen" => match value.parse::<SocketAddr>() {
                Ok(addr) => builder.listen(addr),
                Err(e) => {
                    eprintln!("error: --listen {value}: {e}");
                    return ExitCode::from(2);
                }
            },
            "--project-id" => builder.project_id(value),
            "--secret" => builder.secret(value),
            other => {
                eprintln!("error: unknown argument {other}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        };
    }
    let emulator = match builder.start().await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: could not start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("STYTCH_API_URL={}", emulator.base_url());
    println!("STYTCH_PROJECT_ID={}", emulator.project_id());
    println!("STYTCH_SECRET={}", emulator.secret());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: waiting for Ctrl-C: {e}");
    }
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
