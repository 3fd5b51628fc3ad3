//! This node's identity, kept in the data dir: the calls it carries are recorded under it, so
//! after a crash it can close their records (and only its own, when nodes share a database).

use std::path::Path;

/// File under the data dir holding the node id.
const FILE: &str = "node.id";

/// Reads the node id from `data_dir`, creating it at first start.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(id) if valid(id.trim()) => return Ok(id.trim().to_owned()),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not a node id (node_ and 16 hex digits); delete it to get a new one",
                    path.display()
                ),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let id = format!("node_{:016x}", rand::random::<u64>());
    std::fs::write(&path, format!("{id}\n"))?;
    Ok(id)
}

fn valid(id: &str) -> bool {
    id.strip_prefix("node_")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let first = load_or_create(dir.path()).expect("create");
        assert!(valid(&first), "{first}");
        assert_eq!(load_or_create(dir.path()).expect("read"), first);
        std::fs::write(dir.path().join(FILE), "garbage").expect("write");
        let err = load_or_create(dir.path()).expect_err("garbage refused");
        assert!(err.to_string().contains("node.id"), "{err}");
    }
}
