//! Tenant IP allowlists: which networks may use the portal and the API. Checked at the edge
//! before any credential is looked at; changed by admins under Settings → Security, with a
//! confirmation step when the change would shut out the admin's own address.

use crate::audit::model::AuditAction;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde_json::json;

use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::{AllowFor, AllowRule, Tenant};
use crate::tenancy::repo as tenants;

/// Entries per tenant; the edge checks them on every request.
const MAX_RULES: usize = 100;

/// Whether `ip` may use `channel` under `rules`. A channel that no entry covers is open.
pub fn admits(rules: &[AllowRule], ip: Option<IpAddr>, channel: AllowFor) -> bool {
    let mut covering = rules.iter().filter(|r| r.applies_to.covers(channel)).peekable();
    if covering.peek().is_none() {
        return true;
    }
    let Some(ip) = ip.map(canonical) else { return false };
    covering.any(|rule| IpNet::from_str(&rule.cidr).is_ok_and(|net| net.contains(&ip)))
}

/// IPv4 clients reaching a dual-stack socket appear as `::ffff:a.b.c.d`; rules name them in
/// IPv4 form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The reverse proxies in front of the portal (`BEACON_TRUSTED_PROXIES`). Only when the
/// connection comes from one of them is `X-Forwarded-For` believed, and only up to the first
/// address that is not a trusted proxy: anything left of it could have been written by the
/// client itself.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(raw: &str) -> AppResult<Self> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                parse_network(s)
                    .and_then(|n| IpNet::from_str(&n).map_err(AppError::internal))
                    .map_err(|_| AppError::invalid(format!("BEACON_TRUSTED_PROXIES: `{s}` is not an IP network")))
            })
            .collect::<AppResult<Vec<_>>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, or, behind trusted proxies, the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_address<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|header| header.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match IpAddr::from_str(hop) {
                Ok(ip) if self.trusts(ip) => client = ip,
                Ok(ip) => return canonical(ip),
                // A malformed hop: nothing to its left can be trusted either.
                Err(_) => break,
            }
        }
        canonical(client)
    }
}

/// Parses `203.0.113.0/24`, `2001:db8::/32` or a single address; host bits are cleared.
pub fn parse_network(raw: &str) -> AppResult<String> {
    let raw = raw.trim();
    let net = IpNet::from_str(raw)
        .or_else(|_| IpAddr::from_str(raw).map(IpNet::from))
        .map_err(|_| AppError::invalid(format!("`{raw}` is not an IP network; write it like 203.0.113.0/24")))?;
    Ok(net.trunc().to_string())
}

/// A change an admin asks for.
pub enum Edit {
    Add(AllowRule),
    Remove { cidr: String, applies_to: AllowFor },
}

impl Edit {
    pub fn add(cidr: &str, applies_to: &str, note: &str) -> AppResult<Self> {
        let note = note.trim();
        if note.chars().count() > 200 {
            return Err(AppError::invalid("Keep the note under 200 characters."));
        }
        Ok(Edit::Add(AllowRule {
            cidr: parse_network(cidr)?,
            applies_to: AllowFor::parse(applies_to)?,
            note: note.to_owned(),
        }))
    }
}

/// Applies an edit to the list as it is now (locked, so two admins' edits cannot overwrite
/// each other). If the admin's own address would lose the portal, the edit is refused unless
/// `confirmed`. Returns the new list.
pub async fn edit(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    edit: Edit,
    confirmed: bool,
) -> AppResult<Vec<AllowRule>> {
    let id = tenant.id;
    let rules = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let mut rules = tenants::lock_allowlist(conn, id).await?;
                let (action, rule) = apply(&mut rules, edit)?;
                let own_address = source.ip.as_deref().and_then(|ip| IpAddr::from_str(ip).ok());
                if !confirmed && !admits(&rules, own_address, AllowFor::Portal) {
                    return Err(AppError::conflict(format!(
                        "Your address ({}) would no longer reach the portal: you would be signed out with no way \
                     back in. Tick “Lock me out” to save anyway.",
                        source.ip.as_deref().unwrap_or("unknown")
                    )));
                }
                tenants::set_allowlist(conn, id, &rules).await?;
                let event = AuditEvent::success(action, rule.cidr.clone()).details(json!({
                    "applies_to": rule.applies_to.as_str(),
                    "note": rule.note,
                    "entries": rules.len(),
                    "self_lockout_confirmed": confirmed,
                }));
                record(conn, &source, event).await?;
                Ok(rules)
            })
        })
        .await?;
    db.tenants().forget(id);
    Ok(rules)
}

fn apply(rules: &mut Vec<AllowRule>, edit: Edit) -> AppResult<(AuditAction, AllowRule)> {
    match edit {
        Edit::Add(rule) => {
            if rules.iter().any(|r| r.cidr == rule.cidr && r.applies_to == rule.applies_to) {
                return Err(AppError::conflict(format!("{} is already on the list.", rule.cidr)));
            }
            if rules.len() >= MAX_RULES {
                return Err(AppError::invalid(format!("An allowlist holds at most {MAX_RULES} entries.")));
            }
            rules.push(rule.clone());
            Ok((AuditAction::AllowlistAdded, rule))
        }
        Edit::Remove { cidr, applies_to } => {
            let position = rules
                .iter()
                .position(|r| r.cidr == cidr && r.applies_to == applies_to)
                .ok_or_else(|| AppError::not_found(format!("{cidr} is not on the list.")))?;
            Ok((AuditAction::AllowlistRemoved, rules.remove(position)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidr: &str, applies_to: AllowFor) -> AllowRule {
        AllowRule { cidr: cidr.into(), applies_to, note: String::new() }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn channels_without_entries_are_open_and_listed_ones_closed_to_others() {
        let rules = [rule("203.0.113.0/24", AllowFor::Portal), rule("2001:db8::/32", AllowFor::Both)];
        assert!(admits(&rules, ip("203.0.113.77"), AllowFor::Portal));
        assert!(admits(&rules, ip("::ffff:203.0.113.77"), AllowFor::Portal), "IPv4-mapped IPv6");
        assert!(!admits(&rules, ip("198.51.100.1"), AllowFor::Portal));
        assert!(admits(&rules, ip("2001:db8::1"), AllowFor::Api));
        assert!(!admits(&rules, ip("203.0.113.77"), AllowFor::Api), "portal entries do not open the API");
        assert!(!admits(&rules, None, AllowFor::Portal), "an unknown address is not listed");
        assert!(admits(&[rule("10.0.0.0/8", AllowFor::Api)], ip("198.51.100.1"), AllowFor::Portal));
        assert!(admits(&[], None, AllowFor::Api));
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        let peer = |s: &str| s.parse::<IpAddr>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Direct connections: the header is the client's own invention.
        assert_eq!(proxies.client_address(peer("198.51.100.9"), ["203.0.113.5"].into_iter()), ip("198.51.100.9"));
        // Behind the proxy: the right-most untrusted hop, not a forged left-most one.
        let header = ["203.0.113.66, 198.51.100.20, 10.1.1.1"];
        assert_eq!(proxies.client_address(peer("10.0.0.2"), header.into_iter()), ip("198.51.100.20"));
        assert_eq!(
            proxies.client_address(peer("10.0.0.2"), ["198.51.100.20", "10.1.1.1"].into_iter()),
            ip("198.51.100.20")
        );
        assert_eq!(proxies.client_address(peer("10.0.0.2"), std::iter::empty()), ip("10.0.0.2"));
        assert_eq!(proxies.client_address(peer("10.0.0.2"), ["garbage, 10.1.1.1"].into_iter()), ip("10.1.1.1"));
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/8,nope").is_err());
    }

    #[test]
    fn networks_are_parsed_strictly_and_normalised() {
        assert_eq!(parse_network(" 203.0.113.9/24 ").unwrap(), "203.0.113.0/24");
        assert_eq!(parse_network("198.51.100.7").unwrap(), "198.51.100.7/32");
        assert_eq!(parse_network("2001:db8::1/32").unwrap(), "2001:db8::/32");
        for bad in ["", "203.0.113.0/33", "example.com", "10.0.0.0/8; DROP"] {
            assert!(parse_network(bad).is_err(), "{bad}");
        }
    }
}
