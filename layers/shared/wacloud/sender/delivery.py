"""What the sender does with the items of a request: Meta's rules, then delivery, then records.

For each item, in order:

1. Idempotency: an item with an ``idempotency_key`` claims it in the ledger first. A key already
   used answers with its first result; a key another request is sending now gets a retryable
   "in progress" failure; nothing is sent without the claim.
2. Rules: the template catalog (:mod:`wacloud.sender.catalog`: a template Meta would refuse,
   and the template's category), then (:mod:`wacloud.sender.policy`) the 24-hour window,
   opt-out and marketing stop, decided locally.
3. Delivery: the contact's turn (Meta's pair limit) and the phone number's (its rate limit), both
   shared by every instance, then the Graph API. A request is sent again only after a failure
   that proves Meta did not take it (:mod:`wacloud.meta.graph_client`), per Meta's remedy for
   the error and within the invocation's deadline (:mod:`wacloud.sender.retry`).
   After a read timeout or an answer that cannot be read the outcome is unknown, and the item is
   never sent again automatically: Meta has no idempotency of its own.
4. Records: an accepted message is recorded by its wamid (status webhooks join it); a failure is
   recorded on the failed-messages index, unless it goes back to a queue that redelivers it.
   The claim keeps the result when Meta accepted the message or may have (outcome unknown), so
   repeats answer with it; it is released when nothing was sent, so a later request may send.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from wacloud.core.errors import WaCloudError
from wacloud.core.metrics import metrics
from wacloud.core.observability import log_failure, logger
from wacloud.meta.access_token import RECHECK_SECONDS, AccessTokens, CredentialSource
from wacloud.meta.error_codes import (
    PAIR_RATE_LIMIT,
    RETRY_TOMORROW,
    TOKEN_EXPIRED,
    Remedy,
    classify,
    pair_limit_delay,
)
from wacloud.meta.graph_client import GraphApiError, GraphClient, GraphOutcomeUnknownError
from wacloud.meta.outbound import STATUS_FAILED, SendError, SendResponse, SendResult
from wacloud.sender.catalog import UNCHECKED, TemplateCatalog
from wacloud.sender.media_upload import MediaUploads, s3_source
from wacloud.sender.policy import REFUSED_BEFORE_SENDING, refusal
from wacloud.sender.rate_limit import Pacer
from wacloud.sender.retry import Deadline, RetryPolicy
from wacloud.table.errors import TableUnavailableError
from wacloud.table.items import FailedSend, OutboundRecord
from wacloud.table.ledger import Claim, SendLedger, Taken, request_fingerprint
from wacloud.table.pacing import NotBefore, PairPacer
from wacloud.table.store import ConversationStore

if TYPE_CHECKING:
    from wacloud.meta.outbound import OutboundItem

# Beyond the deadline, how long a claim stays reserved for its owner: past it, the owner's
# invocation has certainly ended.
LEASE_SLACK_SECONDS = 10.0
DAY_SECONDS = 86_400
LOCAL_ERROR = -1  # errors with no Meta code: transport, deadline, idempotency
OUTCOME_UNKNOWN = "Outcome unknown"
AUTH_REFUSED = "Access token rejected"
_UNKNOWN_HINT = (
    "Not sent again automatically, to avoid a duplicate: Meta may have accepted it. If the contact "
    "did not get it, send it again under a new idempotency key."
)
_AUTH_HINT = (
    "Put a valid access token in the WhatsApp secret. Queued and EventBridge sends are kept and "
    "retried; send a direct request again once the token is replaced."
)
_MAX_STATUS_CHARS = 64


class RetryBy(StrEnum):
    """Who tries again when an item fails in a way that may succeed soon."""

    CALLER = "caller"
    """The result goes back to the caller (direct invoke); the failure is recorded for follow-up."""
    QUEUE = "queue"
    """The whole request goes back to its queue, which redelivers it; recorded only if final."""


@dataclass(frozen=True)
class Delivery:
    result: SendResult
    retry_soon: bool = False
    """Failed in a way that may succeed within minutes (throttled, unreachable, in progress)."""
    token_rejected: bool = False
    """Failed because Meta refused the access token: nothing succeeds until the secret changes."""


@dataclass(frozen=True)
class SendReport:
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def response(self) -> SendResponse:
        return SendResponse(results=[delivery.result for delivery in self.deliveries])

    @property
    def retry_soon(self) -> bool:
        return any(delivery.retry_soon for delivery in self.deliveries)

    @property
    def token_rejected(self) -> bool:
        return any(delivery.token_rejected for delivery in self.deliveries)


@dataclass(frozen=True)
class OutcomeUnknown:
    """The request may have reached Meta, but no usable answer came back."""

    reason: str


@dataclass
class _Progress:
    number: str
    """The business number the item goes out from."""
    contact: str | None
    """The contact it goes to (a business-scoped id leads to its number's contact), None for none."""
    may_have_sent: bool = False
    """A request went out with no answer yet that proves Meta did not take it."""


Outcome = SendResult | SendError | OutcomeUnknown


class MessageSender:
    def __init__(
        self,
        graph: GraphClient,
        credentials: CredentialSource,
        store: ConversationStore,
        ledger: SendLedger,
        limiter: Pacer | Mapping[str, Pacer],
        *,
        pairs: PairPacer | Mapping[str, PairPacer] | None = None,
        numbers: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        uploads: MediaUploads | None = None,
        catalog: TemplateCatalog | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._graph = graph
        self._uploads = uploads
        self._catalog = catalog
        self._tokens = AccessTokens(credentials, clock=clock)
        self._store = store
        self._ledger = ledger
        # The business numbers sent from, the default first; each has its own limits.
        self._numbers = tuple(numbers) or (graph.endpoint.phone_number_id,)
        self._limiters = limiter if isinstance(limiter, Mapping) else {self._numbers[0]: limiter}
        self._pairs = pairs if isinstance(pairs, Mapping) or pairs is None else {self._numbers[0]: pairs}
        unpaced = [
            number
            for number in self._numbers
            if number not in self._limiters or (self._pairs is not None and number not in self._pairs)
        ]
        if unpaced:
            # Found here, not on a send: a number without its own lines would break Meta's limits.
            raise ValueError(f"every business number needs its pacers; none for {', '.join(unpaced)}")
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep

    def send_all(
        self,
        items: Sequence[OutboundItem],
        deadline: Deadline,
        *,
        retry_by: RetryBy = RetryBy.CALLER,
        marketing: bool = False,
    ) -> SendReport:
        """Send each item in order. ``marketing``: the items are marketing templates (see send_policy),
        for templates whose category the catalog does not know."""
        return SendReport([self._send(item, deadline, retry_by, marketing) for item in items])

    # ------------------------------------------------------------------ one item
    @property
    def numbers(self) -> tuple[str, ...]:
        """The business numbers this sender sends from, the default first."""
        return self._numbers

    def _send(self, item: OutboundItem, deadline: Deadline, retry_by: RetryBy, marketing: bool) -> Delivery:
        body = item.to_graph_body()
        progress = _Progress(number=item.phone_number_id or self._numbers[0], contact=item.addressee)
        claim: Claim | None = None
        if item.idempotency_key is not None:
            # The number is part of the request only when the caller chose it: the default one
            # may change between a request and its redelivery.
            named = {**body, "phone_number_id": item.phone_number_id} if item.phone_number_id else body
            try:
                taken = self._ledger.claim(
                    item.idempotency_key,
                    request_fingerprint(named),
                    lease_seconds=deadline.remaining() + LEASE_SLACK_SECONDS,
                )
            except TableUnavailableError as exc:
                return self._failed(
                    item, body, None, _local_error(exc, retryable=True), retry_by, progress=progress
                )
            if isinstance(taken, Taken):
                return self._answer_taken(item, body, taken, retry_by, progress)
            claim = taken

        try:
            outcome = self._outcome(item, body, deadline, marketing, progress)
        except Exception as exc:
            # Whatever broke (an answer of Meta's no one foresaw, a bug), the claim must be
            # settled: left pending it would block the key, then answer "outcome unknown" for a
            # message that may never have gone out.
            log_failure("sending an item failed unexpectedly", exc, idempotency_key=item.idempotency_key)
            if progress.may_have_sent:
                outcome = OutcomeUnknown(f"the sender failed after sending ({type(exc).__name__})")
            else:
                outcome = SendError(
                    code=LOCAL_ERROR,
                    title="Internal error",
                    message=f"the sender failed before sending ({type(exc).__name__}); nothing was sent.",
                    retryable=False,
                )
        if isinstance(outcome, OutcomeUnknown):
            return self._outcome_unknown(item, body, claim, outcome.reason, progress)
        if isinstance(outcome, SendError):
            return self._failed(item, body, claim, outcome, retry_by, progress=progress)
        return Delivery(self._accepted(item, body, claim, outcome, progress))

    def _outcome(
        self,
        item: OutboundItem,
        body: Mapping[str, Any],
        deadline: Deadline,
        marketing: bool,
        progress: _Progress,
    ) -> Outcome:
        verdict = self._catalog.verdict(item) if self._catalog is not None else UNCHECKED
        if verdict.refusal is not None:
            logger.info(
                "send refused by the template catalog",
                extra={"to": item.addressee, "code": verdict.refusal.code},
            )
            return verdict.refusal
        if verdict.marketing is not None:
            marketing = verdict.marketing  # the template's category, not the caller's guess
        if progress.number not in self._numbers:
            return _unknown_number(progress.number, self._numbers)
        try:
            profile = self._address(item, progress)
        except TableUnavailableError as exc:
            return SendError(
                code=LOCAL_ERROR,
                title="Profile unavailable",
                message=f"could not read the contact's profile: {exc}",
                retryable=True,
            )
        refused = refusal(
            item,
            profile,
            self._clock(),
            marketing=marketing,
            phone_number_id=progress.number if len(self._numbers) > 1 or item.phone_number_id else None,
        )
        if refused is not None:
            logger.info("send refused by rule", extra={"to": item.addressee, "code": refused.code})
            return refused
        if s3_source(body) is not None:
            if self._uploads is None:
                return SendError(
                    code=LOCAL_ERROR,
                    title="Media from S3 not configured",
                    message="nothing was sent.",
                    retryable=False,
                )
            through = None if progress.number == self._numbers[0] else progress.number
            resolved = self._uploads.resolve(body, lambda: self._token(None), through)
            if isinstance(resolved, SendError):
                return resolved
            body = resolved
        paced = self._contact_turn(item, deadline, self._graph.max_request_seconds, progress)
        if paced is not None:
            return paced
        answer = self._deliver(body, deadline, item, progress)
        if not isinstance(answer, dict):
            return answer
        if item.kind == "mark_as_read":
            return SendResult(to=None, message_id=str(body["message_id"]), status="read", error=None)
        wamid, status = _accepted_message(answer)
        if wamid is None:
            return OutcomeUnknown("the Graph API answered 200 without a message id")
        return SendResult(to=item.addressee, message_id=wamid, status=status, error=None)

    def _address(self, item: OutboundItem, progress: _Progress) -> dict[str, Any] | None:
        """The contact's profile, with ``progress`` settled: which contact the item's addressee is,
        and the number it goes from. Unless the item names one, that is the number the contact
        last wrote to (when it is one of ours), so that a reply comes from where they wrote."""
        if progress.contact is None:
            return None
        progress.contact = self._store.contact_of(progress.contact)
        profile = self._store.profile(progress.contact, item.phone_number_id)
        if item.phone_number_id is not None or profile is None:
            return profile
        last_number = profile.get("last_inbound_number")
        if last_number in self._numbers:
            progress.number = str(last_number)
            return profile
        windows = profile.get("windows") or {}
        if len(self._numbers) > 1 and progress.number not in windows and "" not in windows:
            profile = self._store.profile(progress.contact, progress.number)  # that number's window
        return profile

    def _answer_taken(
        self,
        item: OutboundItem,
        body: Mapping[str, Any],
        taken: Taken,
        retry_by: RetryBy,
        progress: _Progress,
    ) -> Delivery:
        key = taken.key
        if not taken.same_request:
            error = SendError(
                code=LOCAL_ERROR,
                title="Idempotency key reused",
                message=f"idempotency key {key!r} was first used for a different request; nothing was sent.",
                hint="Use a new key for a new message.",
                retryable=False,
            )
            return self._failed(
                item, body, None, error, retry_by, progress=progress, send_id=uuid.uuid4().hex
            )
        if taken.result is not None:
            logger.info("idempotent repeat answered", extra={"idempotency_key": key})
            return Delivery(taken.result)
        if not taken.lease_expired:
            error = SendError(
                code=LOCAL_ERROR,
                title="In progress",
                message=f"another request with idempotency key {key!r} is being sent.",
                hint="Ask again in a few seconds: the repeat answers with that request's result.",
                retryable=True,
                retry_after_seconds=5,
            )
            return Delivery(_failed_result(item, error), retry_soon=True)
        # The owner's invocation ended between claiming and settling (stopped by its timeout or
        # a crash), maybe while its request was out. The first repeat settles the key for good.
        result = _failed_result(
            item,
            _unknown_error(f"an earlier request with idempotency key {key!r} stopped while sending"),
        )
        if self._settle_abandoned(key, result):
            self._record_failure(key, item, body, _required(result.error), progress)
        return Delivery(result)

    def _settle_abandoned(self, key: str, result: SendResult) -> bool:
        try:
            return self._ledger.settle_abandoned(key, result)
        except TableUnavailableError as exc:
            log_failure("could not settle an abandoned idempotency claim", exc, idempotency_key=key)
            return False

    # ------------------------------------------------------------------ delivery with retries
    def _deliver(
        self, body: Mapping[str, Any], deadline: Deadline, item: OutboundItem, progress: _Progress
    ) -> dict[str, Any] | SendError | OutcomeUnknown:
        """Meta's answer, or why not: retries failures that prove nothing was sent, per Meta's
        remedies, while the deadline allows."""
        request_seconds = self._graph.max_request_seconds
        attempts = 0
        pair_limit_hits = 0
        new_token_tried = False
        error: SendError | None = None
        while True:
            # The token first: reading the secret (when the cache expires) takes a round trip, and
            # the request must follow its turn at once, or late turns go out together.
            token = self._token(error)
            if isinstance(token, SendError):
                return token
            refused = self._turn(deadline, request_seconds, error, attempts, progress.number)
            if refused is not None:
                return refused
            attempts += 1
            progress.may_have_sent = True
            try:
                answer = self._graph.post_message(dict(body), token, progress.number)
                self._tokens.accepted(token)
                return answer
            except GraphOutcomeUnknownError as exc:
                return OutcomeUnknown(str(exc))
            except GraphApiError as exc:
                progress.may_have_sent = False
                metrics.count("GraphApiErrors", code=str(exc.code))
                error = SendError.from_graph(exc.error).model_copy(update={"retryable": exc.retryable})
                if exc.code == TOKEN_EXPIRED:
                    if not new_token_tried and self._another_token(token):
                        # The cached token was a stale one: the secret holds another, try it now.
                        logger.info("access token refused, sending with the secret's new one")
                        new_token_tried = True
                        continue
                    logger.error("Meta refused the access token in the secret (190)")
                    return _token_rejected(error)
                wait = self._wait_after(exc, error, attempts, pair_limit_hits)
                if isinstance(wait, SendError):
                    return wait
                delay = wait
                if exc.code == PAIR_RATE_LIMIT:
                    pair_limit_hits += 1
            except WaCloudError as exc:
                # Unreachable, or a request that could not be made: nothing was sent.
                progress.may_have_sent = False
                error = _local_error(exc, retryable=exc.retryable)
                if not exc.retryable:
                    return error
                delay = self._retry.backoff(attempts - 1)
            if attempts >= self._retry.max_attempts or not deadline.allows(delay + request_seconds):
                return _out_of_time(error, attempts, delay)
            metrics.count("SendRetries")
            logger.info(
                "send failed, retrying",
                extra={
                    "to": item.addressee,
                    "code": error.code,
                    "attempt": attempts,
                    "delay": round(delay, 3),
                },
            )
            self._sleep(delay)

    def _contact_turn(
        self, item: OutboundItem, deadline: Deadline, request_seconds: float, progress: _Progress
    ) -> SendError | None:
        """Wait for the contact's next free time (Meta's pair limit); why not, if it comes too late."""
        pairs = self._pairs.get(progress.number) if self._pairs is not None else None
        if pairs is None or progress.contact is None or item.kind == "mark_as_read":
            return None
        latest = self._clock() + deadline.remaining() - request_seconds
        try:
            turn = pairs.reserve(progress.contact, latest)
        except TableUnavailableError as exc:
            return _local_error(exc, retryable=True)
        if isinstance(turn, NotBefore):
            wait = max(1, math.ceil(turn.seconds - self._clock()))
            logger.info("send paced for its contact", extra={"to": item.addressee, "retry_after": wait})
            return SendError(
                code=PAIR_RATE_LIMIT,
                title="Pair rate limit",
                message=f"{REFUSED_BEFORE_SENDING}: this contact was sent many messages just now, and "
                "Meta allows about one every 6 seconds after a burst (131056).",
                hint=f"Sent again after {wait} s: the queue redelivers it; a direct caller asks again then.",
                retryable=True,
                retry_after_seconds=wait,
            )
        pause = turn - self._clock()
        if pause > 0:
            self._sleep(pause)
        return None

    def _turn(
        self, deadline: Deadline, request_seconds: float, error: SendError | None, attempts: int, number: str
    ) -> SendError | None:
        """Wait for the number's next free time; why no request may go, if none may."""
        try:
            waited = self._limiters[number].acquire()
        except TableUnavailableError as exc:
            # Without its turn a request could break the number's limit: nothing is sent.
            return _local_error(exc, retryable=True)
        if waited:
            # Counted as a sign that the number's rate is the bottleneck.
            metrics.count("RateLimitWaits")
            metrics.timing("RateLimitWaitTime", waited * 1000)
        if not deadline.allows(request_seconds):
            return _out_of_time(error, attempts)
        return None

    def _wait_after(
        self, exc: GraphApiError, error: SendError, attempts: int, pair_limit_hits: int
    ) -> float | SendError:
        """How long to wait before sending again after Meta refused a request, or the final error."""
        if classify(exc.code) is Remedy.RETRY_AFTER_24H:
            return error.model_copy(
                update={
                    "hint": "Meta limits messages to this user for now: retry in 24 hours at the earliest.",
                    "retry_after_seconds": DAY_SECONDS,
                }
            )
        if not exc.retryable:
            return error
        if exc.code == PAIR_RATE_LIMIT:
            delay = float(pair_limit_delay(pair_limit_hits))  # Meta's advice: 4**X seconds
        else:
            delay = self._retry.backoff(attempts - 1)
        return max(delay, exc.retry_after or 0.0)  # the answer's Retry-After, when longer

    def access_token(self) -> str | SendError:
        """The access token this sender sends with (cached), for other Graph API calls."""
        return self._token(None)

    def _token(self, error: SendError | None) -> str | SendError:
        """The access token to send with, or why there is none (``error``: the item's last one)."""
        try:
            token = self._tokens.for_request()
        except WaCloudError as exc:
            # Nothing sent, and kept for later like a refused token: trying again within the
            # invocation cannot help before the secret can be read.
            log_failure("could not read the access token", exc)
            return _local_error(exc, retryable=True)
        return _token_rejected(error) if token is None else token

    def _another_token(self, refused: str) -> bool:
        """Whether the secret holds a token other than ``refused``, which Meta just refused."""
        try:
            return self._tokens.refused(refused)
        except WaCloudError as exc:
            log_failure("could not read the access token", exc)
            return False

    # ------------------------------------------------------------------ outcomes
    def _outcome_unknown(
        self,
        item: OutboundItem,
        body: Mapping[str, Any],
        claim: Claim | None,
        reason: str,
        progress: _Progress,
    ) -> Delivery:
        """Meta may have accepted it: recorded for follow-up, kept under its key, never resent."""
        result = _failed_result(item, _unknown_error(reason))
        send_id = item.idempotency_key or uuid.uuid4().hex
        self._record_failure(send_id, item, body, _required(result.error), progress)
        if claim is not None:
            try:
                self._ledger.complete(claim, result)
            except TableUnavailableError as exc:
                # Left pending, the claim answers "outcome unknown" too once its lease ends.
                log_failure("could not settle an idempotency claim", exc, idempotency_key=claim.key)
        logger.warning(
            "send outcome unknown", extra={"to": item.addressee, "kind": item.kind, "reason": reason}
        )
        metrics.count("MessagesSent", result="unknown")
        return Delivery(result)

    def _accepted(
        self,
        item: OutboundItem,
        body: Mapping[str, Any],
        claim: Claim | None,
        result: SendResult,
        progress: _Progress,
    ) -> SendResult:
        # Everything after Meta's acceptance is best effort: the message is out, so these writes
        # must not turn it into a failure that invites a resend. A claim left pending answers
        # "outcome unknown" to repeats once its lease ends: never a duplicate.
        if claim is not None:
            try:
                self._ledger.complete(claim, result)
                if claim.failed_send_recorded:
                    self._ledger.forget_failed_send(claim.key)
            except TableUnavailableError as exc:
                log_failure("could not settle an idempotency claim", exc, idempotency_key=claim.key)
        if item.kind != "mark_as_read":
            try:
                self._record(str(result.message_id), item, body, result.status, progress)
            except TableUnavailableError as exc:
                log_failure("could not record an accepted message", exc, wamid=result.message_id)
        logger.info(
            "message sent",
            extra={
                "wamid": result.message_id,
                "kind": item.kind,
                "message_status": result.status,
                "phone_number_id": progress.number,
            },
        )
        metrics.count("MessagesSent", result="accepted" if item.kind != "mark_as_read" else "marked_read")
        return result

    def _failed(
        self,
        item: OutboundItem,
        body: Mapping[str, Any],
        claim: Claim | None,
        error: SendError,
        retry_by: RetryBy,
        *,
        progress: _Progress,
        send_id: str | None = None,
    ) -> Delivery:
        """Nothing was sent: recorded unless a queue takes it back, and the claim released."""
        retry_soon = error.retryable and error.code != RETRY_TOMORROW
        recorded = False
        if not (retry_soon and retry_by is RetryBy.QUEUE):
            send_id = send_id or item.idempotency_key or uuid.uuid4().hex
            recorded = self._record_failure(send_id, item, body, error, progress)
        if claim is not None:
            try:
                self._ledger.release(claim, failed_send_recorded=recorded)
            except TableUnavailableError as exc:
                # The claim stays pending until its lease ends, then answers "outcome unknown":
                # never a duplicate, at worst a message that needs a new key.
                log_failure("could not release an idempotency claim", exc, idempotency_key=claim.key)
        logger.warning(
            "send failed",
            extra={"to": item.addressee, "kind": item.kind, "code": error.code, "retryable": error.retryable},
        )
        # A failure a queue retries soon is not final: counted as such, so the failure rate shows
        # what contacts miss, not what the queue will send again.
        if retry_soon and retry_by is RetryBy.QUEUE:
            metrics.count("MessagesSent", result="requeued")
        else:
            metrics.count("MessagesSent", result="failed")
            metrics.count("SendFailures", code=str(error.code))
        return Delivery(
            _failed_result(item, error),
            retry_soon=retry_soon,
            token_rejected=error.code == TOKEN_EXPIRED and error.retryable,
        )

    def _record_failure(
        self,
        send_id: str,
        item: OutboundItem,
        body: Mapping[str, Any],
        error: SendError,
        progress: _Progress,
    ) -> bool:
        failed = FailedSend(
            send_id=send_id,
            kind=item.kind,
            phone_number_id=progress.number,
            request=body,
            errors=[error.model_dump(mode="json", exclude_none=True)],
            error_code=error.code,
            retryable=error.retryable,
            timestamp=int(self._clock()),
            wa_id=progress.contact,
            idempotency_key=item.idempotency_key,
        )
        try:
            self._ledger.record_failed_send(failed)
        except TableUnavailableError as exc:
            log_failure("could not record a failed send", exc, send_id=send_id)
            return False
        return True

    def _record(
        self, wamid: str, item: OutboundItem, body: Mapping[str, Any], status: str, progress: _Progress
    ) -> None:
        record = OutboundRecord(
            wamid=wamid,
            wa_id=str(progress.contact),
            kind=item.kind,
            timestamp=int(self._clock()),
            accepted_status=status,
            phone_number_id=progress.number,
            request=body,
            idempotency_key=item.idempotency_key,
        )
        self._store.record_outbound(record)


def _accepted_message(answer: Mapping[str, Any]) -> tuple[str | None, str]:
    """The wamid and ``message_status`` of Meta's success answer (``accepted`` when it names none)."""
    messages = answer.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    if not isinstance(first, Mapping):
        return None, "accepted"
    wamid = first.get("id")
    status = first.get("message_status")
    if not isinstance(status, str) or not 0 < len(status) <= _MAX_STATUS_CHARS:
        status = "accepted"
    return (wamid if isinstance(wamid, str) and wamid else None), status


def _failed_result(item: OutboundItem, error: SendError) -> SendResult:
    return SendResult(to=item.addressee, message_id=None, status=STATUS_FAILED, error=error)


def _required(error: SendError | None) -> SendError:
    assert error is not None  # a failed result always carries its error
    return error


def _unknown_number(number: str, numbers: Sequence[str]) -> SendError:
    return SendError(
        code=LOCAL_ERROR,
        title="Unknown business number",
        message=f"phone_number_id {number} is not one of this stack's numbers ({', '.join(numbers)}); "
        "nothing was sent.",
        retryable=False,
    )


def _local_error(exc: WaCloudError, retryable: bool) -> SendError:
    return SendError(code=LOCAL_ERROR, title=type(exc).__name__, message=str(exc), retryable=retryable)


def _unknown_error(reason: str) -> SendError:
    return SendError(
        code=LOCAL_ERROR,
        title=OUTCOME_UNKNOWN,
        message=f"{reason}; Meta may or may not have accepted the message.",
        hint=_UNKNOWN_HINT,
        retryable=False,
    )


def _token_rejected(meta_error: SendError | None) -> SendError:
    """Retryable, unlike Meta's class for 190: the same request succeeds once the token is replaced."""
    if meta_error is not None and meta_error.code == TOKEN_EXPIRED:
        message = meta_error.message
    else:
        message = (
            "not sent: Meta refused the access token the secret holds (190), so no request was made with it."
        )
    return SendError(
        code=TOKEN_EXPIRED,
        title=AUTH_REFUSED,
        message=message,
        hint=_AUTH_HINT,
        retryable=True,
        retry_after_seconds=int(RECHECK_SECONDS),
    )


def _out_of_time(error: SendError | None, attempts: int, next_delay: float = 0.0) -> SendError:
    """The last error, handed back as retryable: this invocation has no time or attempts left."""
    hint = (
        f"Not accepted after {attempts} attempt(s) within this invocation; send it again later."
        if attempts
        else "Not attempted: this invocation had no time left; send it again."
    )
    base = error or SendError(code=LOCAL_ERROR, title="Deadline reached", retryable=True)
    return base.model_copy(
        update={"retryable": True, "hint": hint, "retry_after_seconds": max(1, math.ceil(next_delay))}
    )
