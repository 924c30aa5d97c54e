//! Who is asking: API keys, the roles they map to, and what each role may read.
//!
//! A key is `bando_<id>_<secret>`. Only the SHA-256 of the whole key is stored, in PostGIS
//! (`bando.api_keys`) or in the config file for the no-database default. The secret is 32
//! random bytes, so a fast hash is enough: there is no password to guess, and a slow
//! key-derivation function would cost every request.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use axum::http::{HeaderMap, header};
use layers::{AccessLevel, LayerId};
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
        // Monitoring stations' devices: they report readings and read what anyone may.
        ("station".to_owned(), Role { access: AccessLevel::Public, private: false }),
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
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key's id, `None` for an anonymous caller.
    pub key: Option<String>,
    /// The role's name, `None` for an anonymous caller.
    pub role: Option<String>,
    /// What the role may read.
    pub clearance: Role,
    /// The client's address, when the connection has one.
    pub address: Option<std::net::IpAddr>,
    /// What the request has read so far (shared by the clones of one request's caller).
    pub reads: Reads,
}

/// What one request has read, noted as layers are opened for it: the restricted ones, audited
/// once the answer succeeds, and whether any was not public, which keeps shared caches from
/// storing the answer.
#[derive(Clone, Debug, Default)]
pub struct Reads(Arc<Mutex<ReadsSoFar>>);

/// The reads of one request, as [`Reads::take`] hands them over.
#[derive(Debug, Default)]
pub struct ReadsSoFar {
    /// Restricted layers read, each once, in the order read.
    pub restricted: Vec<LayerId>,
    /// Whether the answer shows a layer that is not public (read or listed).
    pub non_public: bool,
}

impl Reads {
    /// Notes that the answer shows the layer `id` of this level (`read`: its content, not just
    /// its name in a list).
    pub fn note(&self, id: &LayerId, level: AccessLevel, read: bool) {
        let mut so_far = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        so_far.non_public |= level != AccessLevel::Public;
        if read && level == AccessLevel::Restricted && !so_far.restricted.contains(id) {
            so_far.restricted.push(id.clone());
        }
    }

    /// Everything noted so far.
    pub fn take(&self) -> ReadsSoFar {
        std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Caller {
    /// A caller without a key: public layers, no personal data.
    pub fn anonymous() -> Self {
        Self {
            key: None,
            role: None,
            clearance: Role { access: AccessLevel::Public, private: false },
            address: None,
            reads: Reads::default(),
        }
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

    /// The caller a request's `X-API-Key` or `Authorization` (Bearer or Basic) header names; no header is
    /// the anonymous caller. A key that is malformed, unknown or revoked is a 401, and so are
    /// credentials that disagree (two different keys, or one header repeated): picking one of
    /// them would let a garbage token ride on a valid key, or a caller choose between roles.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let not_valid = || ApiError::Unauthorized("the API key is not valid".into());
        let keys = headers
            .get_all("x-api-key")
            .iter()
            .map(|v| v.to_str().map(|k| k.trim().to_owned()).map_err(|_| not_valid()));
        let mut given: Vec<String> = keys.collect::<Result<_, _>>()?;
        for v in headers.get_all(header::AUTHORIZATION) {
            given.push(authorization(v)?);
        }
        let key = match given.as_slice() {
            [] => return Ok(Caller::anonymous()),
            [key] => key,
            [a, b] if a == b => a,
            _ => {
                return Err(ApiError::Unauthorized("the request carries conflicting credentials: send one key".into()));
            }
        };
        let record = self.by_hash.get(&hash(key)).ok_or_else(not_valid)?;
        let clearance = self.roles.get(&record.role).copied().unwrap_or(Caller::anonymous().clearance);
        Ok(Caller { key: Some(record.id.clone()), role: Some(record.role.clone()), clearance, ..Caller::anonymous() })
    }
}

/// The key of an `Authorization: Bearer <key>` value; the scheme is case-insensitive (RFC 9110,
/// 11.1), any other scheme is a 401.
/// The key of an `Authorization` header: `Bearer <key>`, or HTTP Basic with the key as the
/// password (the user name is not read), for clients such as SensorThings ones that know no other
/// scheme.
fn authorization(value: &header::HeaderValue) -> Result<String, ApiError> {
    use base64::Engine;
    let refused =
        || ApiError::Unauthorized("Authorization must be `Bearer <key>` or Basic with the key as password".into());
    let (scheme, given) = value.to_str().ok().and_then(|s| s.split_once(' ')).ok_or_else(refused)?;
    let given = given.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        given.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(given).map_err(|_| refused())?;
        let pair = String::from_utf8(decoded).map_err(|_| refused())?;
        pair.split_once(':').map(|(_, password)| password.to_owned()).ok_or_else(refused)?
    } else {
        return Err(refused());
    };
    if key.is_empty() {
        return Err(refused());
    }
    Ok(key)
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
        let by_header = ring.identify(&headers("x-api-key", &key)).ok().map(|c| (c.key, c.role));
        let by_bearer =
            ring.identify(&headers("authorization", &format!("Bearer {key}"))).ok().map(|c| (c.key, c.role));
        assert_eq!(by_header, by_bearer);
        assert_eq!(by_header.and_then(|c| c.1), Some("agency".into()));
        assert_eq!(ring.identify(&HeaderMap::new()).ok().map(|c| c.key), Some(None));
    }

    #[test]
    fn http_basic_carries_the_key_as_its_password() {
        use base64::Engine;
        let (ring, key) = ring();
        let basic = |pair: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
        let caller = ring.identify(&headers("authorization", &basic(&format!("station-7:{key}")))).ok();
        assert_eq!(caller.and_then(|c| c.role), Some("agency".into()));
        for refused in [basic(&format!("{key}:")), basic(&key), basic("x:bando_nokey_00"), "Basic !!".into()] {
            assert!(ring.identify(&headers("authorization", &refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let (ring, key) = ring();
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let caller = ring.identify(&headers("authorization", &format!("{scheme} {key}"))).ok();
            assert_eq!(caller.and_then(|c| c.role), Some("agency".into()), "{scheme}");
        }
    }

    #[test]
    fn conflicting_credentials_are_refused() {
        let ((one, key), (two, other)) = (ring(), ring());
        let keys = one.by_hash.values().chain(two.by_hash.values()).cloned();
        let both = Keyring::new(keys, default_roles()).unwrap_or_else(|e| panic!("{e}"));
        let mut h = headers("x-api-key", &key);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer garbage"));
        assert!(both.identify(&h).is_err(), "a valid key with a garbage token");
        let mut h = headers("x-api-key", &key);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {other}")).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(both.identify(&h).is_err(), "two valid keys");
        let mut h = headers("x-api-key", &key);
        h.append("x-api-key", HeaderValue::from_str(&other).unwrap_or_else(|e| panic!("{e}")));
        assert!(both.identify(&h).is_err(), "the header twice");
        let mut h = headers("x-api-key", &key);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(both.identify(&h).is_ok(), "the same key in both headers");
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
