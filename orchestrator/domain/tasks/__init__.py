"""Task-type handlers, one module per family, registered by TaskType (see base.py).

To add a type: write a handler (subclass tasks.common.BaseHandler), then register it below.
"""

from orchestrator.domain.tasks.base import TaskHandler, handler_for, register, registered_kinds
from orchestrator.domain.tasks.do_while import DoWhileHandler
from orchestrator.domain.tasks.dynamic import DynamicHandler
from orchestrator.domain.tasks.dynamic_fork import DynamicForkHandler
from orchestrator.domain.tasks.exclusive_join import ExclusiveJoinHandler
from orchestrator.domain.tasks.fork import ForkHandler, JoinHandler
from orchestrator.domain.tasks.inline import (
    InlineScriptHandler,
    JsonJqHandler,
    LambdaHandler,
    NoopHandler,
    SetVariableHandler,
    TerminateHandler,
)
from orchestrator.domain.tasks.simple import EventHandler, SimpleHandler, SystemExecutorHandler
from orchestrator.domain.tasks.start_workflow import StartWorkflowHandler
from orchestrator.domain.tasks.subworkflow import SubWorkflowHandler
from orchestrator.domain.tasks.switch import SwitchHandler
from orchestrator.domain.tasks.wait import HumanHandler, WaitHandler

for _handler in (
    SimpleHandler(),
    SystemExecutorHandler(),
    EventHandler(),
    NoopHandler(),
    SetVariableHandler(),
    InlineScriptHandler(),
    LambdaHandler(),
    JsonJqHandler(),
    TerminateHandler(),
    SwitchHandler(),
    ForkHandler(),
    JoinHandler(),
    DoWhileHandler(),
    DynamicForkHandler(),
    SubWorkflowHandler(),
    StartWorkflowHandler(),
    WaitHandler(),
    HumanHandler(),
    DynamicHandler(),
    ExclusiveJoinHandler(),
):
    register(_handler)

__all__ = ["TaskHandler", "handler_for", "register", "registered_kinds"]
