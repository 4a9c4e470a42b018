//! The approval part of a policy as validated types: roles, leave types, the missed-punch
//! limit, and the request templates with their fields, conditions and route steps.
//!
//! Values of these types only exist validated: they are built by the policy loader
//! (`policy/approvals.rs`), which refuses a condition on a missing field, a comparison that
//! does not fit the field's type, an empty route, a role nobody holds or an unknown employee,
//! each as a [`PolicyError`](crate::policy::PolicyError) naming the JSON path.

use chrono::NaiveDate;

/// The approvals section of a policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApprovalPolicy {
    /// Roles (`finance`, `hr`, …) and the employees who hold them, in document order.
    pub roles: Vec<Role>,
    /// Leave types with their yearly entitlement.
    pub leave_types: Vec<LeaveType>,
    /// Most missed-punch corrections one employee may file per calendar month.
    pub missed_punch_monthly_limit: u32,
    /// Request templates, in document order.
    pub templates: Vec<Template>,
}

impl ApprovalPolicy {
    /// The template with this id.
    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// The holders of a role.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The leave type with this id.
    pub fn leave_type(&self, id: &str) -> Option<&LeaveType> {
        self.leave_types.iter().find(|l| l.id == id)
    }
}

/// A role and the employees who hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Role id as the policy gives it, e.g. `finance`; what a step's `{"role": …}` approvers
    /// name.
    pub id: String,
    /// Employee ids; never empty.
    pub members: Vec<String>,
}

/// A kind of leave and its yearly entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveType {
    /// Leave type id, e.g. `annual`: the options of a leave template's `leave_type` field and
    /// the ledger's [`Movement::leave_type`](super::leave::Movement::leave_type) use it.
    pub id: String,
    /// Display name for people, e.g. `Annual leave 年假`; 1 to 256 characters.
    pub name: String,
    /// Days granted per calendar year, in half days (14 days = 28).
    pub yearly_halves: u32,
    /// Whether a balance may go below zero (borrowing from next year's entitlement).
    pub allow_negative: bool,
    /// Time off in lieu (調休): the balance is the attendance ledger's credit from overtime
    /// compensated as time off, not a yearly entitlement (which is then 0).
    pub time_off_in_lieu: bool,
}

/// What a template's requests are, which decides the fields it must have and what approval
/// does (see `docs/approvals.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    /// An expense claim: a money field `amount`, a choice `category`, a date `date` and an
    /// attachment field `receipts`.
    Expense,
    /// Leave: a choice `leave_type` (options are the policy's leave type ids) and a date range
    /// `period`; approval books the days against the balance.
    Leave,
    /// A missed-punch correction (補卡): a date `date`, a choice `punch_kind` and a text
    /// `time` (`HH:MM`, local); approval adds a corrected attendance record.
    MissedPunch,
    /// Review of a field punch (外勤): a text `punch_id`; filed for punches whose verdict was
    /// a field punch.
    FieldPunchReview,
    /// Overtime approved in advance: a date `date` and a number `minutes` (whole minutes,
    /// 1 to 1440); approval makes the minutes count as approved overtime on that date.
    Overtime,
    /// Any other form; approval has no side effect.
    General,
}

impl RequestType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Expense => "expense",
            RequestType::Leave => "leave",
            RequestType::MissedPunch => "missed_punch",
            RequestType::FieldPunchReview => "field_punch_review",
            RequestType::Overtime => "overtime",
            RequestType::General => "general",
        }
    }
}

/// A request form and the route its requests take.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Template id, e.g. `expense`; a submission names its template by it
    /// ([`Submission::template_id`](super::Submission::template_id)).
    pub id: String,
    /// Display name for people, e.g. `Expense claim 報銷`; 1 to 256 characters.
    pub name: String,
    /// What the template's requests are; decides the built-in fields it must have and what
    /// approval does.
    pub request_type: RequestType,
    /// Fields in display order; ids are unique.
    pub fields: Vec<Field>,
    /// Route steps in order; at least one has no condition, so every request has an approver.
    pub route: Vec<StepSpec>,
}

impl Template {
    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Field id, the key of the field's value in a form's JSON, e.g. `amount`; unique within
    /// the template.
    pub id: String,
    /// Label shown to people, 1 to 256 characters; the field id when the policy gives none.
    pub label: String,
    /// Whether a form must give a value (an absent value and `null` both count as none);
    /// `false` when the policy does not say.
    pub required: bool,
    /// The field's type and the limits a value must meet.
    pub kind: FieldKind,
}

/// A field's type and its validation.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// Free text, counted in Unicode characters.
    Text {
        /// Fewest characters a value may have; 0 when the policy does not say.
        min_len: u32,
        /// Most characters a value may have, 1 to 100,000; 2,000 when the policy does not say.
        max_len: u32,
    },
    /// A finite number in `min..=max`.
    Number {
        /// Smallest value allowed; −10^15 when the policy does not say.
        min: f64,
        /// Largest value allowed; 10^15 when the policy does not say.
        max: f64,
    },
    /// Money in integer minor units of one ISO 4217 currency, in `min..=max`.
    Money {
        /// ISO 4217 code, three upper-case letters such as `HKD`; a value in any other
        /// currency is refused.
        currency: String,
        /// Smallest amount allowed, in minor units (cents); 0 when the policy does not say.
        min_minor: i64,
        /// Largest amount allowed, in minor units; 100,000,000,000 when the policy does not
        /// say.
        max_minor: i64,
    },
    /// A calendar date (`YYYY-MM-DD`, the policy's time zone).
    Date {
        /// Earliest date allowed, inclusive; no lower bound when `None`.
        min: Option<NaiveDate>,
        /// Latest date allowed, inclusive; no upper bound when `None`.
        max: Option<NaiveDate>,
    },
    /// An inclusive range of dates, each end optionally a half day; at most `max_days` long.
    DateRange {
        /// Longest range allowed, in days (a half day counts as 0.5), 1 to 366; 31 when the
        /// policy does not say.
        max_days: u32,
    },
    /// One of a fixed list of options.
    Choice {
        /// The values a form may give, in policy order, none twice. A leave template's
        /// `leave_type` options are leave type ids; a missed-punch template's `punch_kind`
        /// options are among `in`, `out`, `break_start` and `break_end`.
        options: Vec<String>,
    },
    /// Files (receipt photos), referenced by SHA-256; `min_count..=max_count` of them, each
    /// at most `max_bytes`.
    Attachment {
        /// Fewest files a value may list; 0 when the policy does not say.
        min_count: u32,
        /// Most files a value may list, 1 to 50; 10 when the policy does not say.
        max_count: u32,
        /// Largest file allowed, in bytes, at most
        /// [`MAX_ATTACHMENT_BYTES`](crate::policy::MAX_ATTACHMENT_BYTES); 10 MiB when the
        /// policy does not say.
        max_bytes: u64,
    },
    /// A handwritten signature image, referenced by SHA-256, at most `max_bytes`.
    Signature {
        /// Largest image allowed, in bytes, at most
        /// [`MAX_ATTACHMENT_BYTES`](crate::policy::MAX_ATTACHMENT_BYTES); 1 MiB when the
        /// policy does not say.
        max_bytes: u64,
    },
}

impl FieldKind {
    /// The type's name in the policy format.
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text { .. } => "text",
            FieldKind::Number { .. } => "number",
            FieldKind::Money { .. } => "money",
            FieldKind::Date { .. } => "date",
            FieldKind::DateRange { .. } => "date_range",
            FieldKind::Choice { .. } => "choice",
            FieldKind::Attachment { .. } => "attachment",
            FieldKind::Signature { .. } => "signature",
        }
    }
}

/// A step of a template's route.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    /// Step name shown to people, e.g. `Finance`, 1 to 256 characters; copied into the
    /// computed route.
    pub name: String,
    /// Who approves the step.
    pub approvers: ApproverSpec,
    /// Whether the first approval decides the step or every approver must approve;
    /// [`StepMode::Any`] when the policy does not say.
    pub mode: StepMode,
    /// The step applies only when this holds for the form; always when `None`.
    pub when: Option<Condition>,
}

/// Who approves a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproverSpec {
    /// The applicant's manager `level` levels up: 1 is the direct manager, 2 the manager's
    /// manager.
    Manager {
        /// How many levels up the applicant's management chain, 1 to 5.
        level: u8,
    },
    /// Every holder of a role.
    Role(String),
    /// Named employees.
    Employees(Vec<String>),
}

/// How many of a step's approvers must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepMode {
    /// The first approval decides the step.
    Any,
    /// Every approver must approve (countersign).
    All,
}

/// A condition over a form's field values.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every condition holds (true when empty is refused by the loader).
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
    /// A comparison of one field's value with a constant of the field's type. A field left
    /// empty makes every comparison on it false.
    Compare {
        /// Id of the template field whose value is compared.
        field: String,
        /// How the value is compared with the constant.
        op: CompareOp,
        /// The constant, of the type the field's values have.
        value: Operand,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// The value equals the constant (text and choice values compare exactly, case included).
    Eq,
    /// The value differs from the constant.
    Ne,
    /// The value is greater than the constant (number, money, date and date range fields
    /// only; a date range compares by its length).
    Gt,
    /// The value is greater than or equal to the constant (as for `Gt`).
    Ge,
    /// The value is less than the constant (as for `Gt`).
    Lt,
    /// The value is less than or equal to the constant (as for `Gt`).
    Le,
    /// The value is one of a list (text and choice fields).
    In,
}

impl CompareOp {
    /// The operator's name in the policy format.
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
            CompareOp::In => "in",
        }
    }

    /// Whether `ordering` (value compared with the constant) satisfies the operator.
    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CompareOp::Eq | CompareOp::In => ordering == Equal,
            CompareOp::Ne => ordering != Equal,
            CompareOp::Gt => ordering == Greater,
            CompareOp::Ge => ordering != Less,
            CompareOp::Lt => ordering == Less,
            CompareOp::Le => ordering != Greater,
        }
    }
}

/// The constant side of a comparison, typed by the field it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// For a number field.
    Number(f64),
    /// Minor units of the field's currency.
    Money(i64),
    /// For a date field; later dates are greater.
    Date(NaiveDate),
    /// A date range's length, in half days.
    Halves(u32),
    /// For `eq` or `ne` on a text or choice field; for a choice field, one of its options.
    Text(String),
    /// For `in`.
    TextSet(Vec<String>),
}
