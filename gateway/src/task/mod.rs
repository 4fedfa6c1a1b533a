//! The task domain: what a task is, how a request for one is validated, and the
//! operations clients perform on tasks (create, cancel, follow up).

mod model;
mod request;
mod service;
pub mod structured;
mod view;

pub use model::{Delivery, ErrorKind, Network, TaskError, TaskOptions, TaskResult, TaskStatus, TaskWebhook, Usage};
pub use request::{
    FieldError, FollowUp, NewTask, parse_follow_up, parse_new_task, pointer_token, unknown_fields, whole_u64,
};
pub use service::{CreateOutcome, RequestContext, TaskHistory, TaskRules, TaskService, TaskServiceError};
pub use view::{TaskView, TurnView};
