//! The registered claims, read in one pass that skips everything else and
//! refuses any claim name appearing twice.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::claims::Audience;
use crate::jws::Skip;
use crate::profile::TokenProfile;

/// The claims this crate reads, parsed in one pass that skips everything else
/// without allocating (within serde_json's nesting limit, see `Skip`) and
/// refuses any claim name appearing twice.
#[derive(Default)]
pub(super) struct Registered {
    pub(super) iss: Option<String>,
    pub(super) sub: Option<String>,
    pub(super) aud: Option<Audience>,
    pub(super) exp: Option<u64>,
    pub(super) nbf: Option<u64>,
    pub(super) iat: Option<u64>,
    pub(super) jti: Option<String>,
    /// The token-type claim's value, mapped by the profile.
    pub(super) token_type: Option<String>,
    pub(super) sid: Option<String>,
    pub(super) auth_time: Option<u64>,
    pub(super) iat_us: Option<u64>,
    /// Whether a `client_id` (a string) is present (RFC 9068 §2.2).
    pub(super) client_id: bool,
}

pub(super) struct RegisteredSeed<'c> {
    pub(super) profile: &'c TokenProfile,
}

impl<'de> DeserializeSeed<'de> for RegisteredSeed<'_> {
    type Value = Registered;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Registered, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RegisteredSeed<'_> {
    type Value = Registered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered, A::Error> {
        fn set<'de, A: MapAccess<'de>, V: Deserialize<'de>>(
            slot: &mut Option<V>,
            map: &mut A,
            name: &'static str,
        ) -> Result<(), A::Error> {
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value()?);
            Ok(())
        }

        let mut out = Registered::default();
        // RFC 7519 §4: claim names must be unique. Refusing every duplicate,
        // not only the registered ones, means no two parsers (ours, the
        // application's `T`, a log pipeline) can read different values.
        let mut seen = SeenNames::default();
        while let Some(name) = map.next_key::<ClaimName<'de>>()? {
            let name = name.into_cow();
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom("duplicate claim"));
            }
            let key = name.as_ref();
            let profile = self.profile;
            if profile
                .token_type
                .as_ref()
                .is_some_and(|claim| key == claim.name)
            {
                set(&mut out.token_type, &mut map, "token type")?;
                continue;
            }
            if key == profile.subject_claim {
                if out.sub.is_some() {
                    return Err(de::Error::duplicate_field("subject"));
                }
                out.sub = Some(if key == "sub" {
                    map.next_value::<String>()?
                } else {
                    map.next_value::<Subject>()?.0
                });
                continue;
            }
            match key {
                "iss" => set(&mut out.iss, &mut map, "iss")?,
                "client_id" => {
                    let _: String = map.next_value()?;
                    out.client_id = true;
                }
                "aud" => set(&mut out.aud, &mut map, "aud")?,
                "jti" => set(&mut out.jti, &mut map, "jti")?,
                "sid" => set(&mut out.sid, &mut map, "sid")?,
                "exp" => set_date(&mut out.exp, &mut map, "exp")?,
                "nbf" => set_date(&mut out.nbf, &mut map, "nbf")?,
                "iat" => set_date(&mut out.iat, &mut map, "iat")?,
                "auth_time" => set_date(&mut out.auth_time, &mut map, "auth_time")?,
                "iat_us" => set(&mut out.iat_us, &mut map, "iat_us")?,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The claim names read so far, to refuse a duplicate. A token has about ten
/// claims, so a linear scan of a short list beats hashing each name into a
/// fresh set (which allocated three times per token); past
/// [`SeenNames::LINEAR`] names it switches to a set, so a payload of
/// thousands of names costs linear time, not quadratic.
#[derive(Default)]
struct SeenNames<'de> {
    list: Vec<Cow<'de, str>>,
    set: HashSet<Cow<'de, str>>,
}

impl<'de> SeenNames<'de> {
    const LINEAR: usize = 32;

    /// False when `name` was seen before.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.list.len() < Self::LINEAR {
            if self.list.contains(&name) {
                return false;
            }
            if self.list.capacity() == 0 {
                self.list.reserve_exact(Self::LINEAR);
            }
            self.list.push(name);
            return true;
        }
        if self.set.is_empty() {
            self.set.extend(self.list.iter().cloned());
        }
        self.set.insert(name)
    }
}

fn set_date<'de, A: MapAccess<'de>>(
    slot: &mut Option<u64>,
    map: &mut A,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value::<NumericDate>()?.0);
    Ok(())
}

/// A subject under a name other than `sub`: a JSON string, or an integer
/// (simplejwt's `user_id`), kept as its decimal text.
struct Subject(String);

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SubjectVisitor;
        impl Visitor<'_> for SubjectVisitor {
            type Value = Subject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Subject, E> {
                Ok(Subject(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Subject, E> {
                Ok(Subject(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Subject, E> {
                Ok(Subject(v.to_string()))
            }
        }
        deserializer.deserialize_any(SubjectVisitor)
    }
}

/// A claim name, borrowed from the payload when it has no escapes.
enum ClaimName<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> ClaimName<'de> {
    fn into_cow(self) -> Cow<'de, str> {
        match self {
            Self::Borrowed(s) => Cow::Borrowed(s),
            Self::Owned(s) => Cow::Owned(s),
        }
    }
}

impl<'de> Deserialize<'de> for ClaimName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = ClaimName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ClaimName::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ClaimName::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// A JSON-number `NumericDate` (RFC 7519 §2): a non-negative integer, or a
/// finite non-negative fraction (floored). Strings are refused.
struct NumericDate(u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor(PhantomData<()>);
        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative JSON number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("negative date"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v >= 0.0 {
                    // Saturating float-to-int conversion, floored.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Ok(NumericDate(v.floor() as u64))
                } else {
                    Err(E::custom("invalid date"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor(PhantomData))
    }
}

#[cfg(test)]
mod seen_names_tests {
    use super::*;

    #[test]
    fn duplicates_are_found_before_and_after_the_switch_to_a_set() {
        let mut seen = SeenNames::default();
        for i in 0..100 {
            assert!(seen.insert(Cow::Owned(format!("c{i}"))), "c{i} is new");
            // A repeat of the first, a middle and the latest name.
            for j in [0, i / 2, i] {
                assert!(!seen.insert(Cow::Owned(format!("c{j}"))), "c{j} after c{i}");
            }
        }
        assert!(seen.insert(Cow::Borrowed("exp")));
        assert!(!seen.insert(Cow::Borrowed("exp")));
    }
}
