//! Shared by the fuzz targets: an emulator (offline Stytch on loopback), a validator
//! warmed against it on a fixed clock, and the app behind `StytchLayer`.

#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_stytch::{ManualClock, StytchConfig, StytchLayer, StytchSession, Validator, require_role};
use stytch_emulator::{EmulatorHandle, NewSession};

/// The sandbox token the emulator always accepts: the only credential a fuzzer could
/// stumble on that legitimately authenticates.
pub const SANDBOX_TOKEN: &str = "WJtR5BCy38Szd5AfoDpf0iqFKEt4EE5JhjlWUY7l3FtY";

pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub emu: EmulatorHandle,
    pub validator: Validator,
    pub router: Router,
    /// A valid session JWT at the validator's (frozen) time.
    pub baseline: String,
    pub project_id: String,
}

async fn whoami(session: StytchSession) -> String {
    session.user_id().to_owned()
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (emu, validator, baseline) = rt.block_on(async {
            let emu = stytch_emulator::Emulator::builder()
                .start()
                .await
                .expect("emulator");
            let clock = ManualClock::at_unix_secs(emu.now_unix());
            let config = StytchConfig::builder(emu.project_id(), emu.secret())
                .api_url(emu.base_url())
                .request_timeout(Duration::from_secs(2))
                .clock(clock)
                .build()
                .expect("config");
            let validator = Validator::new(config);
            validator.warm_up().await.expect("warm-up");
            let baseline = emu.create_session(NewSession::new()).session_jwt;
            (emu, validator, baseline)
        });
        let router = Router::new()
            .route("/", get(whoami))
            .route("/admin", get(whoami).route_layer(require_role("admin")))
            .layer(StytchLayer::new(validator.clone()));
        let project_id = emu.project_id().to_owned();
        Env {
            rt,
            emu,
            validator,
            router,
            baseline,
            project_id,
        }
    })
}
