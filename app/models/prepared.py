"""Plain statements of the sign-in paths, compiled once and run on the driver's cursor.

SQLAlchemy Core sets up every execution afresh (an execution context, the parameters
processed through it, result metadata): about 30 µs per statement on the benchmark machines,
where SQLite itself takes 4 µs for the same UPDATE. A passkey sign-in runs eight statements
(issue #4 allows it 4 ms of server CPU in all). :class:`Prepared` keeps, per dialect and set
of parameter names, what SQLAlchemy's compiler makes of a statement (the SQL text, the order
of its parameters, the type processors of its binds and result columns) and hands the
driver's cursor the processed values directly, in the connection's transaction.

It takes only what needs none of the execution context: a statement whose compilation needs
Python-side column defaults, expanding (``IN``) parameters or escaped names runs through
``Connection.execute`` as before. Driver errors are raised as SQLAlchemy's own exceptions
(``sqlalchemy.exc.IntegrityError`` and so on) and a lost connection is invalidated (that
connection only: on PostgreSQL the engine's ``pool_pre_ping`` finds the pool's other dead
ones). Execution options that act per statement (a schema translate map, hidden parameters)
and cursor events are not applied; Keystile uses none. An isolation level (the edge's
autocommit) is: SQLAlchemy sets it on the driver's connection itself.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from sqlalchemy import Connection, Insert, Select, Update, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from app.models.base import Executor

Processor = Callable[[Any], Any]
#: what may be prepared: plain statements
Statement: TypeAlias = "Insert | Update | Select[*tuple[Any, ...]]"


class _Plan:
    """A statement compiled for one dialect and one set of parameter names."""

    def __init__(self, compiled: SQLCompiler, dialect: Dialect, columns: Sequence[Any]) -> None:
        self.compiled = compiled
        self.sql = compiled.string
        self.dialect = dialect
        #: positional drivers (SQLite): the bind names in the order of the placeholders
        self.order: list[str] | None = list(compiled.positiontup or []) if (
            compiled.positional) else None
        # Every occurrence of a name, as SQLAlchemy's own ``_bind_processors`` does: in
        # ``CASE WHEN col < :now THEN :now`` only the first ``:now`` has the column's type.
        self.binds: dict[str, Processor] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds[name] = processor
        self.columns = list(columns)
        self.row: Any = namedtuple("Row", [n for n, _ in self.columns]) if self.columns else None
        self.results: list[Processor | None] | None = None

    @classmethod
    def of(cls, statement: Statement, dialect: Dialect, names: Sequence[str]) -> _Plan | None:
        """The plan, or None where the statement needs SQLAlchemy's execution context."""
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        if not isinstance(compiled, SQLCompiler) or (
                compiled.insert_prefetch or compiled.update_prefetch
                or compiled.escaped_bind_names or compiled.literal_execute_params
                or compiled.post_compile_params
                or any(b.expanding for b in compiled.binds.values())):
            return None
        exported = getattr(statement, "exported_columns", None)
        columns = [(str(name), column) for name, column in (exported or {}).items()]
        if any(not name.isidentifier() or name.startswith("_") for name, _ in columns) or (
                len({name for name, _ in columns}) != len(columns)):
            return None
        return cls(compiled, dialect, columns)

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        values = self.compiled.construct_params(params)
        try:
            for name, processor in self.binds.items():
                values[name] = processor(values[name])
        except Exception as error:  # a naive datetime, say: as Connection.execute says it
            raise exc.StatementError(str(error), self.sql, params, error) from error
        args: Any = values if self.order is None else [values[n] for n in self.order]
        driver = conn.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, args)
            rows = self._rows(cursor.fetchall(), cursor.description) if self.row else []
        except self.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(conn, error, cursor, args) from error
        finally:
            cursor.close()
        return rows

    def _rows(self, raw: Sequence[Any], description: Sequence[Any]) -> list[Any]:
        if self.results is None:
            self.results = [
                column.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for (_, column), d in zip(self.columns, description, strict=True)]
        processors = self.results
        assert self.row is not None
        return [self.row._make(v if p is None else p(v) for p, v in zip(processors, r,
                                                                       strict=True))
                for r in raw]

    def _wrapped(self, conn: Connection, error: Any, cursor: Any,
                 args: Any) -> BaseException:
        """The driver's error as ``Connection.execute`` raises it."""
        lost = self.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
        if lost:
            conn.invalidate(error)
        wrapped: BaseException = exc.DBAPIError.instance(
            self.sql, args, error, self.dialect.loaded_dbapi.Error,
            connection_invalidated=lost, dialect=self.dialect)
        return wrapped


class Prepared:
    """A plain statement (no ORM entities) run in ``db``'s transaction (see the module).

    ``run`` returns the rows, if any, as named tuples: ``row.user_id``, ``row[0]``.
    """

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._plans: dict[tuple[Dialect, frozenset[str]], _Plan | None] = {}

    def run(self, db: Executor, params: Mapping[str, Any] | None = None) -> list[Any]:
        conn = db if isinstance(db, Connection) else db.connection()
        params = params or {}
        key = (conn.dialect, frozenset(params))
        try:
            plan = self._plans[key]
        except KeyError:
            plan = self._plans[key] = _Plan.of(self.statement, conn.dialect, sorted(params))
        if plan is None:
            result = conn.execute(self.statement, params)
            return list(result) if result.returns_rows else []
        if not conn.in_transaction():
            conn.begin()  # as ``execute`` would: the caller's commit() then commits this
        return plan.execute(conn, params)

    def direct(self, dialect: Dialect, names: Sequence[str]) -> bool:
        """Whether ``run`` with these parameter names goes straight to the driver."""
        key = (dialect, frozenset(names))
        if key not in self._plans:
            self._plans[key] = _Plan.of(self.statement, dialect, sorted(names))
        return self._plans[key] is not None
