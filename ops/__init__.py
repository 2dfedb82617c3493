"""Operations tooling, not domain: the private PostgreSQL cluster (initdb, pg_ctl, roles'
passwords), backups, and the database settings the composition roots read."""
