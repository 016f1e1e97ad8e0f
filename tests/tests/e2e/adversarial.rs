//! The adversarial catalogue (docs/threat-model.md, AT-* rows), table-driven: every row is one
//! case id, driven end to end through a router with `StytchLayer` served on loopback
//! against the Stytch emulator (or, for key-material rows, the scripted mock), checking
//! the status, that no 5xx other than 503 occurs, the Stytch call and JWKS fetch
//! counts, and that refusals give nothing away. Failures name the case id.

use crate::support;

use support::cases::{self, Fx};
use support::own::{self, Own};
use support::runner::run_table;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgery_and_key_injection() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::forgery()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_material_served_by_the_mock() {
    let fx = Own::start().await;
    run_table(&fx, &own::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kid_abuse() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::kid_abuse()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jose_header_semantics() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::header_semantics()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_violations() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::claim_violations()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::rbac()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_garbage() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::encoding()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::sizes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_and_header_transport() {
    let fx = Fx::start().await;
    run_table(&fx, &cases::transport()).await;
}

mod lifecycle {
    //! Cases that change the emulator's keys or need several requests on one validator.

    use std::time::Duration;

    use axum_stytch::stytch_validator::{Credentials, SessionSource};
    use serde_json::json;

    use crate::support::app::{self, Live, Req, settle};
    use crate::support::cases::{Fx, payload_of};
    use crate::support::runner::case_validator;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_010_a_new_kid_is_fetched_exactly_once() {
        let live = Live::warm(|b| b).await;
        live.emu.rotate_keys();
        let s = live.session(&[]);
        let before = (live.fetches(), live.calls());
        let sent = live.get("/protected", &Req::cookie(&s.session_jwt)).await;
        assert_eq!(sent.status, 200, "AT-010: {}", sent.body);
        assert_eq!(sent.json()["source"], "local_jwt", "AT-010");
        assert_eq!(live.fetches() - before.0, 1, "AT-010: exactly one fetch");
        assert_eq!(live.calls() - before.1, 0, "AT-010: no remote call");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_044_the_kid_picks_exactly_one_key() {
        let live = Live::cold(|b| b).await;
        let old_kid = live.emu.current_kid();
        live.emu.rotate_keys();
        live.validator.warm_up().await.expect("warm-up");
        // Signed by the new current key, labelled with the other published kid.
        let claims = payload_of(&live.session(&[]).session_jwt);
        let header = json!({"alg": "RS256", "kid": old_kid, "typ": "JWT"});
        let token = live
            .emu
            .sign_raw_jwt(&header.to_string(), &claims.to_string());
        let before = (live.fetches(), live.calls());
        let sent = live.get("/protected", &Req::cookie(&token)).await;
        assert_eq!(sent.status, 401, "AT-044");
        assert!(live.fetches() - before.0 <= 1, "AT-044: at most one fetch");
        assert_eq!(live.calls() - before.1, 0, "AT-044: no remote call");
    }

    /// AT-070 and C-CACHE-03 (TTL variant): a withdrawn key stops verifying, and the
    /// verified-token cache does not outlive it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_070_a_withdrawn_key_stops_verifying_after_the_ttl() {
        let live = Live::warm(|b| b.jwks_max_age(Duration::from_secs(60))).await;
        let old_kid = live.emu.current_kid();
        let s = live.session(&[]);
        let cookie = Req::cookie(&s.session_jwt);
        assert_eq!(
            live.get("/protected", &cookie).await.status,
            200,
            "AT-070 warm"
        );
        assert!(
            live.validator.cached(&s.session_jwt).is_some(),
            "AT-070 cached"
        );
        live.emu.rotate_keys();
        assert!(live.emu.retire_key(&old_kid));
        live.advance(Duration::from_secs(61));
        let before = live.fetches();
        // This request finds the set past its max-age and starts the refresh in the
        // background (stale-while-revalidate); it may still be served by the old set.
        let first = live.get("/protected", &cookie).await.status;
        assert!(first == 200 || first == 401, "AT-070 trigger: {first}");
        assert!(
            settle(|| live.fetches() - before == 1).await,
            "AT-070: the refresh runs"
        );
        // Once the new set is swapped in, the cached verification is dropped on sight.
        assert!(
            settle(|| live.validator.cached(&s.session_jwt).is_none()).await,
            "C-CACHE-03: the cached verification is dropped with its key"
        );
        let sent = live.get("/protected", &cookie).await;
        assert_eq!(sent.status, 401, "AT-070: {}", sent.body);
        // Policy: the withdrawn kid is now unknown, and an unknown kid may ask for one
        // refresh per cooldown (only kid-triggered refreshes count against it), so the
        // row costs the TTL refresh plus one kid refresh; repeats cost nothing more.
        assert_eq!(live.fetches() - before, 2, "AT-070: TTL + one kid refresh");
        for _ in 0..5 {
            assert_eq!(live.get("/protected", &cookie).await.status, 401, "AT-070");
        }
        assert_eq!(live.fetches() - before, 2, "AT-070: cooldown holds");
        assert_eq!(live.calls(), 0, "AT-070: no remote call");
    }

    /// C-CACHE-03: a cached verification is dropped as soon as a refresh (here one an
    /// unknown kid asked for) shows its kid withdrawn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c_cache_03_withdrawal_drops_cached_verifications() {
        let live = Live::warm(|b| b).await;
        let old_kid = live.emu.current_kid();
        let old = live.session(&[]);
        assert_eq!(
            live.get("/protected", &Req::cookie(&old.session_jwt))
                .await
                .status,
            200
        );
        live.emu.rotate_keys();
        assert!(live.emu.retire_key(&old_kid));
        let new = live.session(&[]);
        assert_eq!(
            live.get("/protected", &Req::cookie(&new.session_jwt))
                .await
                .status,
            200,
            "C-CACHE-03: the new kid is fetched"
        );
        let sent = live.get("/protected", &Req::cookie(&old.session_jwt)).await;
        assert_eq!(sent.status, 401, "C-CACHE-03: {}", sent.body);
        assert_eq!(live.calls(), 0, "C-CACHE-03: no remote call");
    }

    /// C-CACHE-01: the cache key is the whole token, in either order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c_cache_01_same_header_and_payload_different_signature() {
        let fx = Fx::start().await;
        let flipped = fx.baseline_sig(|mut s| {
            s[100] ^= 0x04;
            s
        });
        // Same signature (the verified cache hashes a token's tail), different payload.
        let same_tail = {
            let mut parts = fx.baseline.splitn(3, '.');
            let (h, _, s) = (parts.next(), parts.next(), parts.next());
            let p = crate::support::keys::b64(fx.admin_claims().to_string());
            format!("{}.{p}.{}", h.unwrap_or_default(), s.unwrap_or_default())
        };
        let http = app::client();
        for (order, tokens) in [
            ("valid first", [(&fx.baseline, 200), (&flipped, 401)]),
            ("forged first", [(&flipped, 401), (&fx.baseline, 200)]),
            (
                "valid, then same tail",
                [(&fx.baseline, 200), (&same_tail, 401)],
            ),
            (
                "same tail, then valid",
                [(&same_tail, 401), (&fx.baseline, 200)],
            ),
        ] {
            let validator = case_validator(&fx, app::defaults).await;
            let addr = app::serve(&validator).await;
            for (token, status) in tokens {
                for _ in 0..2 {
                    let sent = app::send(&http, addr, "/protected", &Req::cookie(token)).await;
                    assert_eq!(sent.status, status, "C-CACHE-01 ({order})");
                }
            }
        }
    }

    /// C-RBAC-01: the same session gets the same decision locally and remotely.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn c_rbac_01_local_and_remote_paths_agree() {
        let live = Live::warm(|b| b).await;
        let admin = live.session(&["admin"]);
        let user = live.session(&[]);
        let decide = |jwt: String| {
            let live = &live;
            async move {
                let sent = live.get("/admin", &Req::cookie(&jwt)).await;
                let auth = live.validator.authenticate(Credentials::jwt(jwt)).await;
                (sent.status, auth.map(|a| a.session.source()).ok())
            }
        };
        let local = (
            decide(admin.session_jwt.clone()).await,
            decide(user.session_jwt.clone()).await,
        );
        assert_eq!(local.0, (200, Some(SessionSource::LocalJwt)), "C-RBAC-01");
        assert_eq!(local.1, (403, Some(SessionSource::LocalJwt)), "C-RBAC-01");
        live.advance(Duration::from_secs(400));
        let remote = (
            decide(admin.session_jwt.clone()).await,
            decide(user.session_jwt.clone()).await,
        );
        assert_eq!(remote.0.0, 200, "C-RBAC-01 remote admin");
        assert_eq!(remote.1.0, 403, "C-RBAC-01 remote user");
        assert!(live.calls() >= 2, "C-RBAC-01: the remote path was taken");
    }
}
