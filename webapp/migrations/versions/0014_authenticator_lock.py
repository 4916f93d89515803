"""wrong authenticator codes throttled and secrets encrypted at rest

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:00:00

Authenticator secrets were stored in clear. The column is widened for a Fernet token and every existing secret is
encrypted here, with the SECRETS_KEY of the application running the migration (Flask-Migrate runs it inside the
app, so the key is the one the app will read them with). No clear secret survives the upgrade, so the app has no
"clear or encrypted?" branch to get wrong. The downgrade decrypts them again.
"""
import sqlalchemy as sa
from alembic import op
from flask import current_app

from webapp.models.encrypted import decrypt, encrypt, is_token

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_user = sa.table("user", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def rewrite_secrets(bind, change) -> int:
    """Apply `change(value, SECRETS_KEY)` to every stored secret; returns how many changed."""
    key = current_app.config["SECRETS_KEY"]
    rows = bind.execute(sa.select(_user.c.id, _user.c.totp_secret).where(_user.c.totp_secret.is_not(None))).all()
    changed = 0
    for row in rows:
        value = change(row.totp_secret, key)
        if value != row.totp_secret:
            bind.execute(sa.update(_user).where(_user.c.id == row.id).values(totp_secret=value))
            changed += 1
    return changed


def encrypt_clear(value: str, key: str) -> str:
    return value if is_token(value) else encrypt(value, key)


def decrypt_token(value: str, key: str) -> str:
    return decrypt(value, key) if is_token(value) else value


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=255),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('totp_failures', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('totp_failures_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_locked_until', sa.DateTime(timezone=True), nullable=True))
    rewrite_secrets(op.get_bind(), encrypt_clear)


def downgrade():
    rewrite_secrets(op.get_bind(), decrypt_token)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('totp_locked_until')
        batch_op.drop_column('totp_failures_since')
        batch_op.drop_column('totp_failures')
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=255), type_=sa.String(length=64),
                              existing_nullable=True)
