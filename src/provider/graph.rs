//! TODO
use super::Attempt;
use crate::manifest::Target;
use crate::secret::SecretString;

#[derive(Debug, Clone)]
pub struct Graph;

impl Graph {
    pub async fn reset(&self, _t: &Target, _p: Option<&SecretString>) -> Attempt {
        unimplemented!()
    }
    pub fn server_generates(&self) -> bool {
        false
    }
}
