//! Organisations, dashboard users (argon2id password hashes), their logins and the audit log.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use super::{random_id, Store, StoreError};

/// What a user may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads everything of the organisation, changes nothing.
    Viewer,
    /// Manages campaigns, trunks, callbacks and API keys.
    Admin,
    /// Also manages users.
    Owner,
}

impl Role {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The role with this name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A dashboard user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub id: String,
    /// The organisation every query of this user is scoped to.
    pub org: String,
    /// Login name.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
}

/// A login: the cookie value (shown once) and the CSRF token of its forms.
#[derive(Debug, Clone)]
pub struct NewLogin {
    /// The cookie's secret; only its hash is stored.
    pub cookie: String,
    /// The CSRF token forms of this login carry.
    pub csrf: String,
}

/// An authenticated login.
#[derive(Debug, Clone)]
pub struct Login {
    /// Who.
    pub user: User,
    /// The CSRF token state-changing requests must carry.
    pub csrf: String,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    org: String,
    email: String,
    role: String,
    created_at: i64,
}

impl UserRow {
    fn into_user(self) -> Option<User> {
        Some(User {
            role: Role::parse(&self.role)?,
            id: self.id,
            org: self.org,
            email: self.email,
            created_at: self.created_at,
        })
    }
}

/// A hash verified when the email is unknown, so a login takes as long either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qm3Ce5B0fd1YkDnpm5zQzkmPAJoTu0IWWCb0qEnIlXw";

fn hash_password(password: &str) -> Result<String, StoreError> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| StoreError::Query(sqlx::Error::Protocol(format!("argon2: {e}"))))?;
    Ok(hash.to_string())
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const USER_COLUMNS: &str = "id, org, email, role, created_at";

impl Store {
    /// Creates an organisation unless one with this id exists.
    pub async fn create_org(&self, id: &str, name: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The name of an organisation.
    pub async fn org_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Creates a user with an argon2id hash of `password`; None when the email is taken.
    pub async fn create_user(
        &self,
        org: &str,
        email: &str,
        password: &str,
        role: Role,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let email = email.trim().to_lowercase();
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| StoreError::Query(sqlx::Error::Protocol(e.to_string())))??;
        let id = random_id("u_");
        let done = sqlx::query(
            "INSERT INTO users (id, org, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(org)
        .bind(email.as_str())
        .bind(hash)
        .bind(role.as_str())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(User {
            id,
            org: org.to_owned(),
            email,
            role,
            created_at: now,
        }))
    }

    /// The user with this email and password, if both match and the user is enabled.
    pub async fn check_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String, String, String, i64, String)> = sqlx::query_as(
            "SELECT id, org, email, role, created_at, password_hash FROM users \
             WHERE email = $1 AND disabled_at IS NULL",
        )
        .bind(email.trim().to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        let stored = row.as_ref().map_or(DUMMY_HASH.to_owned(), |r| r.5.clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || password_matches(&password, &stored))
            .await
            .unwrap_or(false);
        Ok(row.filter(|_| ok).and_then(|r| {
            UserRow {
                id: r.0,
                org: r.1,
                email: r.2,
                role: r.3,
                created_at: r.4,
            }
            .into_user()
        }))
    }

    /// The users of an organisation, by email.
    pub async fn users(&self, org: &str) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE org = $1 AND disabled_at IS NULL \
             ORDER BY email"
        )))
        .bind(org)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().filter_map(UserRow::into_user).collect())
    }

    /// Starts a login for `user` lasting until `expires_at`.
    pub async fn create_login(
        &self,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<NewLogin, StoreError> {
        let login = NewLogin {
            cookie: random_id(""),
            csrf: random_id(""),
        };
        sqlx::query(
            "INSERT INTO login_sessions (id_sha256, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sha256_hex(&login.cookie))
        .bind(user_id)
        .bind(login.csrf.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(login)
    }

    /// The unexpired login behind a cookie value, with its (enabled) user.
    pub async fn login(&self, cookie: &str, now: i64) -> Result<Option<Login>, StoreError> {
        let row: Option<(String, String, String, String, i64, String)> = sqlx::query_as(
            "SELECT u.id, u.org, u.email, u.role, u.created_at, s.csrf \
             FROM login_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_sha256 = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(sha256_hex(cookie))
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|r| {
            let user = UserRow {
                id: r.0,
                org: r.1,
                email: r.2,
                role: r.3,
                created_at: r.4,
            }
            .into_user()?;
            Some(Login { user, csrf: r.5 })
        }))
    }

    /// Ends a login (logout); also drops logins that expired before `now`.
    pub async fn end_login(&self, cookie: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_sessions WHERE id_sha256 = $1 OR expires_at <= $2")
            .bind(sha256_hex(cookie))
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records who did what in the dashboard.
    pub async fn audit(
        &self,
        org: &str,
        user_id: &str,
        action: &str,
        target: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, org, user_id, action, target, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(random_id("a_"))
        .bind(org)
        .bind(user_id)
        .bind(action)
        .bind(target)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The latest audit entries of an organisation: (at, user id, action, target).
    pub async fn audit_entries(
        &self,
        org: &str,
        limit: i64,
    ) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT at, user_id, action, target FROM audit_log WHERE org = $1 \
             ORDER BY at DESC, id LIMIT $2",
        )
        .bind(org)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
