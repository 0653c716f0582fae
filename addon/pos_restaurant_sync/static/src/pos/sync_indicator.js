/**
 * The sync indicator in the POS navbar: a spinner while a push is in flight, the number of
 * changes not yet acknowledged, a green check when all is synced, red with the cause when
 * the server or the local agent is unreachable (or the possync app is too old for the
 * server), orange with the cause while changes still come but without live updates (Odoo's
 * bus unreachable, so possync pulls at the POS's interval: slower, nothing lost, nothing
 * for the waiter to do, so not the red of a failure), a clock icon when this terminal's clock is far off the server's (possync
 * corrects its stamps, but the tablet's date and time should be set), and an arrow when an
 * update of the possync app is available. Hover shows the details (last sync time first); a tap
 * opens them in a popover, for touch screens.
 *
 * The popover reads the `possync` service itself, not a copy made when it opened: while it
 * stays open it follows the status (pending count, cause, last sync), and says how long ago
 * the last sync was, ticking each second.
 */
import { Component, useEffect, useState } from "@odoo/owl";
import { usePopover } from "@web/core/popover/popover_hook";
import { useService } from "@web/core/utils/hooks";
import { _t } from "@web/core/l10n/translation";
import { appUpdateText, causeText, fallbackText } from "./sync_cause";

const TICK_MS = 1000;

/** How long ago, in the largest whole unit: "just now", "12 s ago", "3 min ago", "2 h ago". */
export function timeAgo(ms) {
    const seconds = Math.floor(ms / 1000);
    if (seconds < 1) {
        return _t("just now");
    }
    if (seconds < 60) {
        return _t("%s s ago", seconds);
    }
    const minutes = Math.floor(seconds / 60);
    return minutes < 60 ? _t("%s min ago", minutes) : _t("%s h ago", Math.floor(minutes / 60));
}

/**
 * One line per fact about the sync, the state first. `now` adds how long ago the last sync
 * was: the popover passes its ticking clock; the tooltip passes none, as it would keep the
 * age it had when the indicator last rendered.
 */
export function syncDetails(sync, now = null) {
    const { cause, pending, lastSyncAt } = sync.status;
    const lines = [
        cause ? _t("Not synced: %s", causeText(cause, sync.status)) : _t("All changes synced"),
        lastSyncLine(lastSyncAt, now),
    ];
    if (sync.status.notice) {
        lines.splice(1, 0, fallbackText(sync.status));
    }
    if (pending) {
        lines.push(_t("%s change(s) waiting to be sent", pending));
    }
    lines.push(...clockLines(sync.status));
    if (sync.status.appUpdate) {
        lines.push(appUpdateText(sync.status.appUpdate));
    }
    lines.push(
        sync.transport === "agent"
            ? _t("Through the possync app on this terminal")
            : _t("Straight to the server (%s mode)", sync.mode)
    );
    return lines;
}

/** What the clock check found: a far-off device clock, changes refused for their clock. */
export function clockLines({ clock, refused, rejected, agentRejected }) {
    const lines = [];
    if (clock?.farOff) {
        const seconds = Math.round(Math.abs(clock.offsetMs) / 1000);
        lines.push(
            clock.offsetMs < 0
                ? _t("This terminal's clock is %s s ahead of the server's", seconds)
                : _t("This terminal's clock is %s s behind the server's", seconds),
            _t("possync corrects its own stamps; set this terminal's date and time")
        );
    }
    if (refused?.count) {
        lines.push(_t("%(count)s change(s) from elsewhere refused: %(reason)s", refused));
    }
    if (rejected?.count) {
        lines.push(_t("%(count)s change(s) refused by the receiver: %(reason)s", rejected));
    }
    if (agentRejected?.count) {
        const { count, last } = agentRejected;
        const reason = last?.reason || "";
        lines.push(_t("%(count)s change(s) refused by the server: %(reason)s", { count, reason }));
    }
    return lines;
}

function lastSyncLine(lastSyncAt, now) {
    if (!lastSyncAt) {
        // Not nested in the other _t: Odoo's term export only sees the outer call.
        const never = _t("never");
        return _t("Last sync: %s", never);
    }
    const time = new Date(lastSyncAt).toLocaleTimeString();
    if (!now) {
        return _t("Last sync: %s", time);
    }
    return _t("Last sync: %(time)s (%(ago)s)", { time, ago: timeAgo(now - lastSyncAt) });
}

/**
 * `{now}`, the time set again every `periodMs` while `active()` is true; the timer stops when
 * it turns false or the component goes away.
 */
function useNow(periodMs, active) {
    const clock = useState({ now: Date.now() });
    useEffect(
        (on) => {
            if (!on) {
                return;
            }
            const timer = setInterval(() => (clock.now = Date.now()), periodMs);
            return () => clearInterval(timer);
        },
        () => [active()]
    );
    return clock;
}

export class SyncDetails extends Component {
    static template = "pos_restaurant_sync.SyncDetails";
    static props = { close: { type: Function, optional: true } };

    setup() {
        this.sync = useState(useService("possync"));
        this.clock = useNow(TICK_MS, () => Boolean(this.sync.status.lastSyncAt));
    }

    get lines() {
        return syncDetails(this.sync, this.clock.now);
    }

    get failed() {
        return Boolean(this.sync.status.cause);
    }
}

export class SyncIndicator extends Component {
    static template = "pos_restaurant_sync.SyncIndicator";
    static props = {};

    setup() {
        this.sync = useState(useService("possync"));
        // Under the button's right edge: the popover keeps clear of the screen's edge when
        // its lines grow while it is open.
        this.popover = usePopover(SyncDetails, { position: "bottom-end" });
    }

    get status() {
        return this.sync.status;
    }

    /** An update of the possync app is available (the details say which and how). */
    get updateAvailable() {
        return Boolean(this.status.appUpdate);
    }

    /** This terminal's clock is far off the server's (the details say how far). */
    get clockFarOff() {
        return Boolean(this.status.clock?.farOff);
    }

    get icon() {
        return (
            {
                syncing: "fa-refresh fa-spin text-primary",
                pending: "fa-cloud-upload text-warning",
                error: "fa-exclamation-triangle text-danger",
                degraded: "fa-exclamation-circle text-warning",
            }[this.status.state] || "fa-check text-success"
        );
    }

    /** The tooltip: the popover's lines, without the age of the last sync. */
    get details() {
        return syncDetails(this.sync);
    }

    toggle(ev) {
        if (this.popover.isOpen) {
            this.popover.close();
        } else {
            this.popover.open(ev.currentTarget, {});
        }
    }
}
