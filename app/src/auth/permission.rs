//! What each role and each API scope may do: the one table every check reads, whether it
//! comes from a page, a server function, a REST handler or `POST /api/permissions/check`.

use serde::{Deserialize, Serialize};

use super::model::Role;
use crate::error::AppError;

/// A scope an API key or OAuth client is limited to. Sessions carry no scopes: a signed-in
/// person acts with their full role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    CatalogRead,
    CatalogWrite,
    CatalogAdmin,
    AuditRead,
    FinopsRead,
    FinopsWrite,
    BriefsRead,
    BriefsWrite,
    PluginsRead,
    PluginsWrite,
    PluginsReport,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::CatalogRead,
        Scope::CatalogWrite,
        Scope::CatalogAdmin,
        Scope::AuditRead,
        Scope::FinopsRead,
        Scope::FinopsWrite,
        Scope::BriefsRead,
        Scope::BriefsWrite,
        Scope::PluginsRead,
        Scope::PluginsWrite,
        Scope::PluginsReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CatalogRead => "catalog:read",
            Scope::CatalogWrite => "catalog:write",
            Scope::CatalogAdmin => "catalog:admin",
            Scope::AuditRead => "audit:read",
            Scope::FinopsRead => "finops:read",
            Scope::FinopsWrite => "finops:write",
            Scope::BriefsRead => "briefs:read",
            Scope::BriefsWrite => "briefs:write",
            Scope::PluginsRead => "plugins:read",
            Scope::PluginsWrite => "plugins:write",
            Scope::PluginsReport => "plugins:report",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scope::CatalogRead => "Read entities, locations and facets",
            Scope::CatalogWrite => "Create, change and delete entities and locations",
            Scope::CatalogAdmin => "Manage the hosts locations may be read from",
            Scope::AuditRead => "Read audit events",
            Scope::FinopsRead => "Read cost data and imports",
            Scope::FinopsWrite => "Import cost files",
            Scope::BriefsRead => "Read competitive briefs and company data, download brief PDFs",
            Scope::BriefsWrite => "Generate briefs, import and edit company data",
            Scope::PluginsRead => "Read the plugin directory and the plugin set (runtimes: dynamic-plugins.yaml)",
            Scope::PluginsWrite => "Install, update, remove, enable, disable and roll back plugins",
            Scope::PluginsReport => {
                "Report which plugins a runtime loaded or failed to load (runtimes: POST /api/plugins/health)"
            }
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw.trim()).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            AppError::invalid(format!("`{}` is not a scope; use {}", raw.trim(), known.join(", ")))
        })
    }

    /// Parses a list of scopes; duplicates collapse and at least one is required.
    pub fn parse_all<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<Self>, AppError> {
        let mut scopes =
            raw.into_iter().filter(|s| !s.trim().is_empty()).map(Scope::parse).collect::<Result<Vec<_>, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(AppError::invalid("Choose at least one scope."));
        }
        Ok(scopes)
    }
}

/// Something a principal may attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    CatalogRead,
    CatalogWrite,
    CatalogAdmin,
    AuditRead,
    /// Cost views: everyone in the tenant.
    FinopsRead,
    /// Cost imports (and later sources, rules, budgets): maintainers and admins.
    FinopsWrite,
    /// Competitive briefs: read-only members see every brief, analysts (developers) only
    /// their own (`briefs::access`).
    BriefsRead,
    /// Generate a brief: analysts and up.
    BriefsGenerate,
    /// Download a brief's PDF: analysts (their own) and up; read-only members cannot.
    BriefsExport,
    /// Import, create and edit company data, sensitive fields included: principals and partners.
    CompaniesManage,
    /// The plugin directory, the tenant's plugin set and its history: everyone in the tenant
    /// (and runtimes, with a `plugins:read` key).
    PluginsRead,
    /// Change the plugin set or the platform it is checked against: admins.
    PluginsManage,
    /// Ask for a change of the plugin set, which an admin approves or rejects: maintainers.
    PluginsRequest,
    /// Report what a runtime loaded (its key, made by a maintainer or admin): it changes what
    /// Settings → Plugins shows as health, never the plugin set.
    PluginsReport,
    /// One's own password, sessions and API keys.
    ManageOwnAccount,
    /// Members, roles, password resets.
    ManageUsers,
    /// API keys of others, OAuth clients.
    ManageAccess,
}

impl Action {
    pub const ALL: [Action; 17] = [
        Action::CatalogRead,
        Action::CatalogWrite,
        Action::CatalogAdmin,
        Action::AuditRead,
        Action::FinopsRead,
        Action::FinopsWrite,
        Action::BriefsRead,
        Action::BriefsGenerate,
        Action::BriefsExport,
        Action::CompaniesManage,
        Action::PluginsRead,
        Action::PluginsManage,
        Action::PluginsRequest,
        Action::PluginsReport,
        Action::ManageOwnAccount,
        Action::ManageUsers,
        Action::ManageAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::CatalogRead => "catalog.read",
            Action::CatalogWrite => "catalog.write",
            Action::CatalogAdmin => "catalog.admin",
            Action::AuditRead => "audit.read",
            Action::FinopsRead => "finops.read",
            Action::FinopsWrite => "finops.write",
            Action::BriefsRead => "briefs.read",
            Action::BriefsGenerate => "briefs.generate",
            Action::BriefsExport => "briefs.export",
            Action::CompaniesManage => "companies.manage",
            Action::PluginsRead => "plugins.read",
            Action::PluginsManage => "plugins.manage",
            Action::PluginsRequest => "plugins.request",
            Action::PluginsReport => "plugins.report",
            Action::ManageOwnAccount => "account.manage_own",
            Action::ManageUsers => "users.manage",
            Action::ManageAccess => "access.manage",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Action::ALL.into_iter().find(|a| a.as_str() == raw.trim()).ok_or_else(|| {
            let known: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
            AppError::invalid(format!("`{}` is not an action; use {}", raw.trim(), known.join(", ")))
        })
    }

    /// The least role that may do this.
    pub fn min_role(self) -> Role {
        match self {
            Action::CatalogRead
            | Action::FinopsRead
            | Action::BriefsRead
            | Action::PluginsRead
            | Action::ManageOwnAccount => Role::Viewer,
            Action::CatalogWrite | Action::BriefsGenerate | Action::BriefsExport => Role::Developer,
            Action::FinopsWrite | Action::CompaniesManage | Action::PluginsRequest | Action::PluginsReport => {
                Role::Maintainer
            }
            Action::CatalogAdmin
            | Action::AuditRead
            | Action::PluginsManage
            | Action::ManageUsers
            | Action::ManageAccess => Role::Admin,
        }
    }

    /// The scope a key or client needs for this; `None` means people only (never machines):
    /// a leaked key must not be able to mint more keys or manage members.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Action::CatalogRead => Some(Scope::CatalogRead),
            Action::CatalogWrite => Some(Scope::CatalogWrite),
            Action::CatalogAdmin => Some(Scope::CatalogAdmin),
            Action::AuditRead => Some(Scope::AuditRead),
            Action::FinopsRead => Some(Scope::FinopsRead),
            Action::FinopsWrite => Some(Scope::FinopsWrite),
            Action::BriefsRead | Action::BriefsExport => Some(Scope::BriefsRead),
            Action::BriefsGenerate | Action::CompaniesManage => Some(Scope::BriefsWrite),
            Action::PluginsRead => Some(Scope::PluginsRead),
            Action::PluginsManage | Action::PluginsRequest => Some(Scope::PluginsWrite),
            Action::PluginsReport => Some(Scope::PluginsReport),
            Action::ManageOwnAccount | Action::ManageUsers | Action::ManageAccess => None,
        }
    }

    /// The actions a role grants, for `GET /api/permissions/roles` and the UI.
    pub fn granted_to(role: Role) -> Vec<Action> {
        Action::ALL.into_iter().filter(|a| role.grants(a.min_role())).collect()
    }
}

/// Why a check came out as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allowed,
    RoleTooLow,
    ScopeMissing,
    PeopleOnly,
}

impl Decision {
    pub fn allowed(self) -> bool {
        self == Decision::Allowed
    }

    pub fn reason(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::RoleTooLow => "the principal's role does not grant this action",
            Decision::ScopeMissing => "the credential lacks the scope this action needs",
            Decision::PeopleOnly => "this action is not available to API keys or OAuth clients",
        }
    }
}

/// Decides whether `role`, limited to `scopes` when the caller is a machine credential, may
/// perform `action`.
pub fn decide(role: Role, scopes: Option<&[Scope]>, action: Action) -> Decision {
    if !role.grants(action.min_role()) {
        return Decision::RoleTooLow;
    }
    match (scopes, action.scope()) {
        (None, _) => Decision::Allowed,
        (Some(_), None) => Decision::PeopleOnly,
        (Some(granted), Some(needed)) if granted.contains(&needed) => Decision::Allowed,
        (Some(_), Some(_)) => Decision::ScopeMissing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_act_with_their_full_role() {
        assert!(decide(Role::Developer, None, Action::CatalogWrite).allowed());
        assert_eq!(decide(Role::Viewer, None, Action::CatalogWrite), Decision::RoleTooLow);
        assert_eq!(decide(Role::Maintainer, None, Action::ManageUsers), Decision::RoleTooLow);
    }

    #[test]
    fn machine_credentials_need_the_scope_and_the_role() {
        let read = [Scope::CatalogRead];
        assert!(decide(Role::Admin, Some(&read), Action::CatalogRead).allowed());
        assert_eq!(decide(Role::Admin, Some(&read), Action::CatalogWrite), Decision::ScopeMissing);
        // A scope never lifts a role: a viewer's key with catalog:write still cannot write.
        assert_eq!(decide(Role::Viewer, Some(&[Scope::CatalogWrite]), Action::CatalogWrite), Decision::RoleTooLow);
        assert_eq!(decide(Role::Admin, Some(&Scope::ALL), Action::ManageOwnAccount), Decision::PeopleOnly);
    }

    #[test]
    fn scopes_and_actions_parse_from_their_names_only() {
        assert_eq!(
            Scope::parse_all(["catalog:write", "catalog:read", "catalog:read"]).unwrap(),
            vec![Scope::CatalogRead, Scope::CatalogWrite]
        );
        assert!(Scope::parse_all([""]).is_err());
        assert!(Scope::parse("catalog:*").is_err());
        assert_eq!(Action::parse("catalog.write").unwrap(), Action::CatalogWrite);
        assert!(Action::parse("everything").is_err());
    }
}
