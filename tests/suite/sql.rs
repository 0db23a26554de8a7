//! The sql module and its community.postgresql names through the `ply` binary, against a throwaway
//! PostgreSQL cluster (tests/src/postgres.rs).

use ply_tests::postgres::Postgres;

#[test]
fn harness_starts_and_answers() {
    let pg = Postgres::start();
    assert_eq!(pg.psql("SELECT 1 + 1"), "2");
    assert_eq!(pg.psql("SHOW password_encryption"), "scram-sha-256");
}
