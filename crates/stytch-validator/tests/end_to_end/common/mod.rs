//! Shared setup: an emulator and a validator whose clocks move together.
#![allow(dead_code, unreachable_pub, missing_debug_implementations)]

use std::time::Duration;

use stytch_emulator::{CreatedSession, Emulator, EmulatorHandle, Factor, NewSession, Route};
use stytch_validator::{Credentials, ManualClock, StytchConfig, StytchConfigBuilder, Validator};

pub struct Env {
    pub emu: EmulatorHandle,
    pub clock: ManualClock,
    pub validator: Validator,
}

impl Env {
    pub async fn new() -> Env {
        Self::with(|b| b).await
    }

    pub async fn with(configure: impl FnOnce(StytchConfigBuilder) -> StytchConfigBuilder) -> Env {
        let emu = Emulator::builder().start().await.expect("emulator starts");
        let clock = ManualClock::at_unix_secs(emu.now_unix());
        let builder = StytchConfig::builder(emu.project_id(), emu.secret())
            .api_url(emu.base_url())
            .request_timeout(Duration::from_secs(2))
            .clock(clock.clone());
        let validator = Validator::new(configure(builder).build().expect("valid config"));
        Env {
            emu,
            clock,
            validator,
        }
    }

    /// Moves the emulator's and the validator's clocks together.
    pub fn advance(&self, by: Duration) {
        self.emu.advance_clock(by);
        self.clock.advance(by);
    }

    pub fn session(&self) -> CreatedSession {
        self.emu
            .create_session(NewSession::new().factor(Factor::email_magic_link("ada@example.com")))
    }

    pub fn calls(&self) -> u64 {
        self.emu.request_count(Route::Authenticate)
    }

    pub fn jwks_fetches(&self) -> u64 {
        self.emu.request_count(Route::Jwks)
    }

    pub async fn auth_jwt(
        &self,
        jwt: &str,
    ) -> Result<stytch_validator::Authenticated, stytch_validator::AuthError> {
        self.validator.authenticate(Credentials::jwt(jwt)).await
    }
}

/// Authenticates `jwt` from `n` tasks released together by a barrier.
pub async fn concurrently(
    validator: &Validator,
    n: usize,
    jwt: &str,
) -> Vec<Result<stytch_validator::Authenticated, stytch_validator::AuthError>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let validator = validator.clone();
            let jwt = jwt.to_owned();
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                validator.authenticate(Credentials::jwt(jwt)).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("task completes"));
    }
    results
}
