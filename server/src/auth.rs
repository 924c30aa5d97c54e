//! Who is asking: API keys, the roles they map to, and what each role may read.
//!
//! A key is `bando_<id>_<secret>`. Only the SHA-256 of the whole key is stored, in PostGIS
//! (`bando.api_keys`) or in the config file for the no-database default. The secret is 32
//! random bytes, so a fast hash is enough: there is no password to guess, and a slow
//! key-derivation function would cost every request.

use std::collections::{BTreeMap, HashMap};

use axum::http::{HeaderMap, header};
use layers::AccessLevel;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// What a role may read.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The highest access level it reads.
    pub access: AccessLevel,
    /// Whether it sees properties marked `private` (personal data).
    #[serde(default)]
    pub private: bool,
}

/// The roles of the sample configuration, used when the configuration names none.
pub fn default_roles() -> BTreeMap<String, Role> {
    BTreeMap::from([
        ("agency".to_owned(), Role { access: AccessLevel::Internal, private: false }),
        ("editor".to_owned(), Role { access: AccessLevel::Restricted, private: true }),
        ("admin".to_owned(), Role { access: AccessLevel::Restricted, private: true }),
    ])
}

/// A stored key: its id, role and hash.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// The public part of the key, shown in logs and the audit.
    pub id: String,
    /// The role it maps to.
    pub role: String,
    /// `sha256:<hex>` of the whole key.
    pub hash: String,
}

/// The caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key's id, `None` for an anonymous caller.
    pub key: Option<String>,
    /// The role's name, `None` for an anonymous caller.
    pub role: Option<String>,
    /// What the role may read.
    pub clearance: Role,
    /// The client's address, when the connection has one.
    pub address: Option<std::net::IpAddr>,
}

impl Caller {
    /// A caller without a key: public layers, no personal data.
    pub fn anonymous() -> Self {
        Self { key: None, role: None, clearance: Role { access: AccessLevel::Public, private: false }, address: None }
    }

    /// Whether the caller may know that a layer of this level exists.
    pub fn may_read(&self, level: AccessLevel) -> bool {
        level <= self.clearance.access
    }

    /// Whether the caller sees private properties.
    pub fn sees_private(&self) -> bool {
        self.clearance.private
    }

    /// Who, for logs and the audit: the key id, or `anonymous`.
    pub fn who(&self) -> &str {
        self.key.as_deref().unwrap_or("anonymous")
    }
}

/// The caller of a request, as [`authenticate`] found it.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::Internal("no caller on the request".into()))
    }
}

/// The keys in force and the roles they map to.
#[derive(Debug, Default)]
pub struct Keyring {
    by_hash: HashMap<String, KeyRecord>,
    roles: BTreeMap<String, Role>,
    /// The configuration file's keys, kept to rebuild the ring when stored keys change.
    configured: Vec<KeyRecord>,
}

impl Keyring {
    /// A keyring of these keys and roles; keys naming an unknown role are refused.
    pub fn new(keys: impl IntoIterator<Item = KeyRecord>, roles: BTreeMap<String, Role>) -> Result<Self, String> {
        let configured: Vec<KeyRecord> = keys.into_iter().collect();
        let mut ring = Self { by_hash: HashMap::new(), roles, configured: configured.clone() };
        ring.add(configured)?;
        Ok(ring)
    }

    /// The configuration's keys and roles with these stored keys added.
    pub fn with_stored(&self, stored: impl IntoIterator<Item = KeyRecord>) -> Result<Self, String> {
        let mut ring = Self::new(self.configured.clone(), self.roles.clone())?;
        ring.add(stored)?;
        Ok(ring)
    }

    fn add(&mut self, keys: impl IntoIterator<Item = KeyRecord>) -> Result<(), String> {
        for k in keys {
            if !self.roles.contains_key(&k.role) {
                return Err(format!("key {:?} has role {:?}, which is not configured", k.id, k.role));
            }
            self.by_hash.insert(k.hash.clone(), k);
        }
        Ok(())
    }

    /// Whether the key with this id is in force (not revoked): long-lived answers such as a
    /// change stream end when it is not.
    pub fn knows(&self, id: &str) -> bool {
        self.by_hash.values().any(|k| k.id == id)
    }

    /// The caller a request's `X-API-Key` or `Authorization: Bearer` header names; no header is
    /// the anonymous caller, and a key that is malformed, unknown or revoked is a 401.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.strip_prefix("Bearer ").or_else(|| s.strip_prefix("bearer ")))
                    .ok_or_else(|| ApiError::Unauthorized("Authorization must be `Bearer <key>`".into()))
            })
            .transpose()?;
        let given = match (headers.get("x-api-key"), bearer) {
            (None, None) => return Ok(Caller::anonymous()),
            (Some(v), _) => v.to_str().map_err(|_| ApiError::Unauthorized("the API key is not valid".into()))?,
            (None, Some(b)) => b,
        };
        let record = self
            .by_hash
            .get(&hash(given.trim()))
            .ok_or_else(|| ApiError::Unauthorized("the API key is not valid".into()))?;
        let clearance = self.roles.get(&record.role).copied().unwrap_or(Caller::anonymous().clearance);
        Ok(Caller { key: Some(record.id.clone()), role: Some(record.role.clone()), clearance, address: None })
    }
}

/// `sha256:<hex>` of a key.
pub fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::from("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A new key: its id and the whole key, `bando_<id>_<secret>`, shown once.
pub fn new_key() -> std::io::Result<(String, String)> {
    let mut bytes = [0u8; 38];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let id = hex(&bytes[..6]);
    Ok((id.clone(), format!("bando_{id}_{}", hex(&bytes[6..]))))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ring() -> (Keyring, String) {
        let (id, key) = new_key().unwrap_or_else(|e| panic!("{e}"));
        let record = KeyRecord { id, role: "agency".into(), hash: hash(&key) };
        (Keyring::new([record], default_roles()).unwrap_or_else(|e| panic!("{e}")), key)
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")));
        h
    }

    #[test]
    fn keys_identify_their_role_by_either_header() {
        let (ring, key) = ring();
        let by_header = ring.identify(&headers("x-api-key", &key)).ok();
        let by_bearer = ring.identify(&headers("authorization", &format!("Bearer {key}"))).ok();
        assert_eq!(by_header, by_bearer);
        assert_eq!(by_header.and_then(|c| c.role), Some("agency".into()));
        assert_eq!(ring.identify(&HeaderMap::new()).ok(), Some(Caller::anonymous()));
    }

    #[test]
    fn bad_keys_are_refused() {
        let (ring, key) = ring();
        assert!(ring.identify(&headers("x-api-key", &format!("{key}x"))).is_err());
        assert!(ring.identify(&headers("authorization", &format!("Basic {key}"))).is_err());
        let stray = KeyRecord { id: "x".into(), role: "nobody".into(), hash: hash("k") };
        assert!(Keyring::new([stray], default_roles()).is_err());
    }

    #[test]
    fn clearance_is_ordered() {
        let agency = Caller { clearance: default_roles()["agency"], ..Caller::anonymous() };
        assert!(agency.may_read(AccessLevel::Internal) && !agency.may_read(AccessLevel::Restricted));
        assert!(!Caller::anonymous().may_read(AccessLevel::Internal));
    }
}
