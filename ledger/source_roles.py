"""What a source connection's database role may do beyond reading rows, asked of the server before a dataset query.

A READ ONLY transaction stops writes to tables, not a privileged role: a PostgreSQL superuser's `pg_read_file`
reads the server's files and `pg_terminate_backend` ends other sessions; a MySQL/MariaDB user with FILE reads them
with `LOAD_FILE`. So a fetch refuses a role that holds such a privilege, rather than trusting the role an operator
registered. Each function returns the role's name and why it is privileged (nothing: least-privileged enough); it
runs one or two small catalogue queries in the fetch's own read-only session.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["mysql_privileges", "postgresql_privileges"]

#: PostgreSQL's predefined roles that reach beyond the database: the server's files, its programs, other sessions.
PG_SERVER_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program", "pg_signal_backend")

#: Global MySQL/MariaDB privileges that reach beyond the rows: FILE reads the server's files (LOAD_FILE); PROCESS
#: shows every session's statements; SUPER and SHUTDOWN administer the server. USER_PRIVILEGES lists ALL PRIVILEGES
#: one by one; SHOW GRANTS (read for a role) names it whole.
MYSQL_SERVER_PRIVILEGES = frozenset({"FILE", "PROCESS", "SUPER", "SHUTDOWN", "ALL PRIVILEGES"})

# session_user, not current_user: it is the login, and what SET ROLE (or set_config('role', …) inside a SELECT) may
# become is judged from it. 'MEMBER' counts memberships a NOINHERIT role holds too, since SET ROLE reaches them.
_PG_QUERY = """
SELECT session_user,
       ARRAY(SELECT r.rolname FROM pg_catalog.pg_roles r
             WHERE r.rolsuper AND pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER') ORDER BY r.rolname),
       ARRAY(SELECT r.rolname FROM pg_catalog.pg_roles r
             WHERE r.rolname = ANY(%s) AND pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER') ORDER BY r.rolname)
"""


def postgresql_privileges(conn: Any) -> tuple[str, list[str]]:
    """The session's login role and why it is privileged, on a psycopg connection."""
    role, superusers, server_roles = conn.execute(_PG_QUERY, (list(PG_SERVER_ROLES),)).fetchone()
    if role in superusers:
        return role, ["is a superuser"]
    reasons = [f"may become the superuser {name}" for name in superusers]
    return role, reasons + [f"is a member of {name}" for name in server_roles]


_GLOBAL_GRANT = re.compile(r"^GRANT (.+?) ON \*\.\* TO ", re.IGNORECASE)


def mysql_privileges(cursor: Any) -> tuple[str, list[str]]:
    """The account's name ('user'@'host') and why it is privileged, on a pymysql cursor."""
    cursor.execute("SELECT CURRENT_USER()")
    user, _, host = cursor.fetchone()[0].rpartition("@")
    account = f"'{user}'@'{host}'"  # as information_schema writes a grantee
    if user == "root":
        return account, ["is root"]
    cursor.execute("SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s", (account,))
    held = {row[0].upper() for row in cursor.fetchall()}
    if not held:  # every account has at least USAGE: a miss means the grantee was not matched, so fail closed
        return account, ["has privileges this server does not show"]
    for role in _enabled_roles(cursor):  # a default role's privileges are not in USER_PRIVILEGES
        cursor.execute(f"SHOW GRANTS FOR {role}")
        for (line,) in cursor.fetchall():
            if match := _GLOBAL_GRANT.match(line):
                held |= {p.strip().upper() for p in match.group(1).split(",")}
    privileged = sorted(held & MYSQL_SERVER_PRIVILEGES)
    if not privileged:
        return account, []
    return account, [f"holds the global {', '.join(privileged)} privilege{'s' * (len(privileged) > 1)}"]


def _enabled_roles(cursor: Any) -> list[str]:
    """The session's enabled roles (nested ones included), quoted for SHOW GRANTS; none where roles do not exist."""
    import pymysql

    try:
        cursor.execute("SELECT * FROM information_schema.ENABLED_ROLES")
    except pymysql.err.MySQLError as e:
        if e.args and e.args[0] in (1109, 1146):  # MySQL before 8.0.19 has no such view (nor, before 8.0, roles)
            return []
        raise
    names = [c[0].upper() for c in cursor.description]
    roles = []
    for row in cursor.fetchall():
        record = dict(zip(names, row))
        if record.get("ROLE_NAME"):
            host = record.get("ROLE_HOST")  # MySQL's roles have a host; MariaDB's do not
            roles.append(_backquote(record["ROLE_NAME"]) + (f"@{_backquote(host)}" if host is not None else ""))
    return roles


def _backquote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
