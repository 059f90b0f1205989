//! `forward_auth`'s own settings, beside the verifier's (`resource_settings.rs`):
//! the scopes each path prefix needs (`REQUIRE_SCOPES`), the claims copied
//! into headers (`CLAIM_HEADERS`), and the DPoP policy.

use std::sync::Arc;

use http::HeaderName;
use tower_jwt_auth::dpop::{DpopPolicy, HtuOrigin};

/// Every header the service answers with starts with this; a client's
/// headers of that name are never read, and proxies overwrite them.
pub const OUTPUT_PREFIX: &str = "x-auth-";

/// The scopes a path prefix needs (`/admin=admin:write`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeRule {
    /// Starts with `/`; no trailing `/` except for `/` itself.
    pub prefix: String,
    /// All required (an empty list: any valid token).
    pub scopes: Vec<String>,
}

/// `REQUIRE_SCOPES`, longest prefix first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeRules(Vec<ScopeRule>);

impl ScopeRules {
    /// Parses `/admin=admin:write;/=read:ping`: rules separated by `;`, the
    /// scopes of one rule by spaces or `,` (every one required).
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut rules: Vec<ScopeRule> = Vec::new();
        for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (prefix, scopes) = entry.split_once('=').ok_or_else(|| {
                format!("REQUIRE_SCOPES: `{entry}` is not `/prefix=scope scope…`")
            })?;
            let prefix = prefix.trim();
            if !prefix.starts_with('/') || prefix.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err(format!(
                    "REQUIRE_SCOPES: the prefix `{prefix}` must start with `/` and hold no spaces"
                ));
            }
            let prefix = match prefix.trim_end_matches('/') {
                "" => "/".to_owned(),
                trimmed => trimmed.to_owned(),
            };
            let scopes: Vec<String> = scopes
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
            if let Some(bad) = scopes.iter().find(|s| {
                s.bytes()
                    .any(|b| !b.is_ascii_graphic() || b == b'"' || b == b'\\')
            }) {
                return Err(format!("REQUIRE_SCOPES: `{bad}` is not a scope"));
            }
            if rules.iter().any(|rule| rule.prefix == prefix) {
                return Err(format!("REQUIRE_SCOPES: `{prefix}` appears twice"));
            }
            rules.push(ScopeRule { prefix, scopes });
        }
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.prefix.len()));
        Ok(Self(rules))
    }

    /// The rule of the longest prefix that `path` is under, segment by
    /// segment (`/admin` covers `/admin` and `/admin/x`, not `/administrator`).
    pub fn rule_for(&self, path: &str) -> Option<&ScopeRule> {
        self.0.iter().find(|rule| {
            rule.prefix == "/"
                || path
                    .strip_prefix(rule.prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Every scope the rules of `readings` (one path, read the ways a
    /// backend might read it) require together, without repeats.
    pub fn required<'a>(&'a self, readings: &[String]) -> Vec<&'a str> {
        let mut scopes: Vec<&str> = Vec::new();
        for rule in readings.iter().filter_map(|path| self.rule_for(path)) {
            for scope in &rule.scopes {
                if !scopes.contains(&scope.as_str()) {
                    scopes.push(scope);
                }
            }
        }
        scopes
    }
}

/// One `CLAIM_HEADERS` entry: the claim `claim` answered as `header`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimHeader {
    /// The claim's name in the token (may hold `:`, as namespaced claims do).
    pub claim: String,
    /// An `X-Auth-…` header other than the subject's and the scopes'.
    pub header: HeaderName,
}

/// Parses `email:X-Auth-Email,name:X-Auth-Name` (the claim name is split
/// from the header at the last `:`). Headers must start with `X-Auth-`:
/// that is the family the proxies are told to overwrite, so a claim can
/// never name `Host`, `Cookie` or `Authorization` on the way upstream.
pub fn parse_claim_headers(value: &str) -> Result<Vec<ClaimHeader>, String> {
    let mut out: Vec<ClaimHeader> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (claim, header) = entry
            .rsplit_once(':')
            .filter(|(claim, header)| !claim.trim().is_empty() && !header.trim().is_empty())
            .ok_or_else(|| format!("CLAIM_HEADERS: `{entry}` is not `claim:X-Auth-Header`"))?;
        let header = HeaderName::try_from(header.trim())
            .map_err(|_| format!("CLAIM_HEADERS: `{header}` is not a header name"))?;
        if !header.as_str().starts_with(OUTPUT_PREFIX)
            || header == "x-auth-subject"
            || header == "x-auth-scopes"
        {
            return Err(format!(
                "CLAIM_HEADERS: `{header}` must start with X-Auth- and not be X-Auth-Subject or X-Auth-Scopes"
            ));
        }
        if out.iter().any(|c| c.header == header) {
            return Err(format!("CLAIM_HEADERS: `{header}` appears twice"));
        }
        out.push(ClaimHeader {
            claim: claim.trim().to_owned(),
            header,
        });
    }
    Ok(out)
}

/// What `forward_auth` reads beside the verifier's settings.
#[derive(Clone, Debug)]
pub struct Forward {
    /// `REQUIRE_SCOPES`.
    pub rules: Arc<ScopeRules>,
    /// `CLAIM_HEADERS`.
    pub claim_headers: Arc<[ClaimHeader]>,
    /// `DPOP`, `PUBLIC_URL`, `DPOP_NONCE`, `DPOP_MAX_AGE_SECS`.
    pub dpop: DpopPolicy,
}

impl Forward {
    /// Reads the variables through `var` (empty counts as unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let env = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            rules: Arc::new(ScopeRules::parse(
                &env("REQUIRE_SCOPES").unwrap_or_default(),
            )?),
            claim_headers: parse_claim_headers(&env("CLAIM_HEADERS").unwrap_or_default())?.into(),
            dpop: dpop_policy(&env)?,
        })
    }
}

/// DPoP from the same variables as `resource_server` (`DPOP`, `PUBLIC_URL`,
/// `DPOP_NONCE`, `DPOP_NONCE_SECRET`, `DPOP_MAX_AGE_SECS`; with `REDIS_URL`
/// the proof replay store is shared by instances), read by the same code
/// (`dpop_settings.rs`). One difference, on purpose: without `PUBLIC_URL` the
/// origin of `htu` is the proxy's `X-Forwarded-Proto` and `X-Forwarded-Host`
/// (the proxy is trusted; it overwrites them), since this service's own
/// address is not what clients send their requests to.
pub fn dpop_policy(env: &impl Fn(&str) -> Option<String>) -> Result<DpopPolicy, String> {
    // The bind address only makes the default `PUBLIC_URL`, replaced below.
    let unused_bind = std::net::SocketAddr::from(([127, 0, 0, 1], 3003));
    let policy = super::dpop_settings::DpopSettings::from_vars(env, unused_bind)?.policy()?;
    Ok(match env("PUBLIC_URL") {
        Some(_) => policy,
        None => policy.origin(HtuOrigin::trust_forwarded_headers()),
    })
}
