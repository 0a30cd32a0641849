//! Server-side truth beyond passwords: sign-in session revocations per user, who must change
//! their password at next sign-in, and the Wristband codes the sandbox has "emailed".
//!
//! Invariants: a Wristband code belongs to one user and one form, and is spent by the first
//! reset that uses it successfully (a reused code is unknown, as after a real reset); a flag or
//! revocation is recorded only for a request that was accepted. Never locked together with the
//! directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use super::random;

/// How a Wristband reset is authorised (the three ways its documentation lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeForm {
    /// A verification link: `emailAuthCode`.
    EmailLink,
    /// A password reset link: `passwordResetCode`.
    ResetLink,
    /// An emailed OTP: `requestCode` + `verificationCode`.
    Otp,
}

impl CodeForm {
    pub(crate) fn parse(text: &str) -> Option<CodeForm> {
        match text {
            "email_auth_code" | "emailAuthCode" => Some(CodeForm::EmailLink),
            "password_reset_code" | "passwordResetCode" => Some(CodeForm::ResetLink),
            "otp" | "request_code" | "requestCode" => Some(CodeForm::Otp),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Issued {
    user: String,
    form: CodeForm,
    /// For OTPs: the verification code that goes with this request code.
    verification: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Accounts {
    revocations: BTreeMap<String, u64>,
    must_change: BTreeSet<String>,
    codes: HashMap<String, Issued>,
}

impl Accounts {
    /// All of `user`'s sign-in sessions were revoked.
    pub(crate) fn revoke(&mut self, user: &str) {
        *self.revocations.entry(user.to_owned()).or_default() += 1;
    }

    /// Records whether `user` must change the password at next sign-in (last reset wins).
    pub(crate) fn set_must_change(&mut self, user: &str, must: bool) {
        if must {
            self.must_change.insert(user.to_owned());
        } else {
            self.must_change.remove(user);
        }
    }

    /// Issues a code of `form` for `user`, as the reset email would carry it: the JSON fields
    /// the Wristband request takes.
    pub(crate) fn issue(&mut self, user: &str, form: CodeForm) -> Value {
        let code = random::hex(16);
        let verification = (form == CodeForm::Otp).then(|| format!("{:06}", rand_digits()));
        let answer = match form {
            CodeForm::EmailLink => json!({ "emailAuthCode": code }),
            CodeForm::ResetLink => json!({ "passwordResetCode": code }),
            CodeForm::Otp => json!({ "requestCode": code, "verificationCode": verification }),
        };
        let issued = Issued {
            user: user.to_owned(),
            form,
            verification,
        };
        self.codes.insert(code, issued);
        answer
    }

    /// The user a code of `form` (and, for OTPs, its verification code) authorises, spending it.
    pub(crate) fn redeem(
        &mut self,
        form: CodeForm,
        code: &str,
        verification: Option<&str>,
    ) -> Option<String> {
        let issued = self.codes.get(code)?;
        if issued.form != form || issued.verification.as_deref() != verification {
            return None;
        }
        self.codes.remove(code).map(|i| i.user)
    }

    /// The stats fields of this part of the truth.
    pub(crate) fn snapshot(&self) -> Value {
        json!({
            "revocations_per_user": self.revocations,
            "must_change_users": self.must_change,
            "wristband_codes_outstanding": self.codes.len(),
        })
    }
}

fn rand_digits() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(0..1_000_000)
}
