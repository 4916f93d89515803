"""cases and their timelines: enquiries, updates, alerts, grievances, appeals

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def _enum(name, values, length):
    return sa.Enum(*values, name=name, native_enum=False, length=length)


def upgrade():
    op.create_table('case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=20), nullable=False),
    sa.Column('kind', _enum('case_kind', ['enquiry', 'update', 'alert', 'grievance', 'appeal'], 16), nullable=False),
    sa.Column('category_code', sa.String(length=60), nullable=False),
    sa.Column('channel', _enum('case_channel', ['office', 'mahalla', 'phone', 'sms', 'portal', 'api'], 16),
              nullable=False),
    sa.Column('status', _enum('case_status', ['new', 'assigned', 'in_progress', 'waiting_citizen', 'waiting_other',
                                              'resolved', 'closed'], 20), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('enrolment_id', sa.Integer(), nullable=True),
    sa.Column('payroll_line_id', sa.Integer(), nullable=True),
    sa.Column('complainant_name', sa.String(length=200), nullable=True),
    sa.Column('complainant_phone', sa.String(length=20), nullable=True),
    sa.Column('language', sa.String(length=8), server_default='uz', nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_to_id', sa.Integer(), nullable=True),
    sa.Column('decision', _enum('case_decision', ['upheld', 'partially_upheld', 'rejected', 'withdrawn', 'redirected',
                                                  'referred'], 20), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_case_application_id_application')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_case_area_id_area')),
    sa.ForeignKeyConstraint(['assignee_id'], ['user.id'], name=op.f('fk_case_assignee_id_user')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_case_created_by_id_user')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_case_enrolment_id_enrolment')),
    sa.ForeignKeyConstraint(['escalated_to_id'], ['user.id'], name=op.f('fk_case_escalated_to_id_user')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_case_household_id_household')),
    sa.ForeignKeyConstraint(['payroll_line_id'], ['payroll_line.id'],
                            name=op.f('fk_case_payroll_line_id_payroll_line')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_case_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case')),
    sa.UniqueConstraint('tracking_number', name=op.f('uq_case_tracking_number'))
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.create_index('ix_case_area_status', ['area_id', 'status'], unique=False)
        batch_op.create_index('ix_case_due_date', ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_payroll_line_id'), ['payroll_line_id'], unique=False)

    op.create_table('case_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', _enum('case_event_kind', ['note', 'confidential_note', 'call', 'visit', 'document', 'sms',
                                                'status_change', 'assignment', 'escalation'], 20), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_case_event_actor_id_user')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_event_case_id_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event'))
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_event_case_id'), ['case_id'], unique=False)


def downgrade():
    op.drop_table('case_event')
    op.drop_table('case')
