//! The HTTP plumbing shared by the JWKS, sessions and RBAC calls: one client with
//! deadlines and no redirects, bodies read up to a cap, failures as reason codes.

use std::time::Duration;

use crate::config::StytchConfig;
use crate::reason::Reason;

/// A response read in full (up to the cap).
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) retry_after: Option<Duration>,
}

/// The client every call uses: the user's, or ours. Redirects are never followed: they
/// would carry our Basic credentials to another host, and keys must come from the
/// configured origin.
pub(crate) fn client(config: &StytchConfig) -> reqwest::Client {
    if let Some(client) = &config.http_client {
        return client.clone();
    }
    reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("axum-stytch/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        // Only a broken TLS backend fails here, which is a build problem, not input.
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    config: &StytchConfig,
    cap: usize,
) -> Result<Fetched, Reason> {
    let request = client.get(url).timeout(config.request_timeout);
    read(url, request.send().await, cap).await
}

pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    config: &StytchConfig,
    body: &impl serde::Serialize,
    cap: usize,
) -> Result<Fetched, Reason> {
    let request = client
        .post(url)
        .timeout(config.request_timeout)
        .basic_auth(&*config.project_id, Some(config.secret.expose()))
        .json(body);
    read(url, request.send().await, cap).await
}

pub(crate) async fn get_authed(
    client: &reqwest::Client,
    url: &str,
    config: &StytchConfig,
    cap: usize,
) -> Result<Fetched, Reason> {
    let request = client
        .get(url)
        .timeout(config.request_timeout)
        .basic_auth(&*config.project_id, Some(config.secret.expose()));
    read(url, request.send().await, cap).await
}

async fn read(
    url: &str,
    sent: reqwest::Result<reqwest::Response>,
    cap: usize,
) -> Result<Fetched, Reason> {
    let mut response = sent.map_err(classify)?;
    // A user-supplied client may follow redirects; an answer from elsewhere is not
    // Stytch's answer.
    if reqwest::Url::parse(url).ok().as_ref() != Some(response.url()) {
        return Err(Reason::UpstreamRedirected);
    }
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| Duration::from_secs(secs.min(3600)));
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(Reason::UpstreamBodyTooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > cap {
            return Err(Reason::UpstreamBodyTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        status,
        body,
        retry_after,
    })
}

fn classify(error: reqwest::Error) -> Reason {
    if error.is_timeout() {
        Reason::UpstreamTimeout
    } else if error.is_connect() {
        Reason::UpstreamUnreachable
    } else {
        Reason::UpstreamConnectionFailed
    }
}
