/**
 * The sync indicator in the POS navbar: a spinner while a push is in flight, the number of
 * changes not yet acknowledged, a green check when all is synced, red with the cause when
 * the server, the bus or the local agent is unreachable. Hover shows the details (last sync
 * time first); a tap opens them in a popover, for touch screens.
 */
import { Component, useState } from "@odoo/owl";
import { usePopover } from "@web/core/popover/popover_hook";
import { useService } from "@web/core/utils/hooks";
import { _t } from "@web/core/l10n/translation";

export class SyncDetails extends Component {
    static template = "pos_restaurant_sync.SyncDetails";
    static props = { lines: Array, failed: Boolean, close: { type: Function, optional: true } };
}

export class SyncIndicator extends Component {
    static template = "pos_restaurant_sync.SyncIndicator";
    static props = {};

    setup() {
        this.sync = useState(useService("possync"));
        this.popover = usePopover(SyncDetails, { position: "bottom" });
    }

    get status() {
        return this.sync.status;
    }

    get icon() {
        return {
            syncing: "fa-refresh fa-spin text-primary",
            pending: "fa-cloud-upload text-warning",
            error: "fa-exclamation-triangle text-danger",
        }[this.status.state] || "fa-check text-success";
    }

    get lastSync() {
        const at = this.status.lastSyncAt;
        return at ? new Date(at).toLocaleTimeString() : _t("never");
    }

    /** One line per fact; the tooltip and the popover show the same. */
    get details() {
        const lines = [
            this.status.cause ? _t("Not synced: %s", this.status.cause) : _t("All changes synced"),
            _t("Last sync: %s", this.lastSync),
        ];
        if (this.status.pending) {
            lines.push(_t("%s change(s) waiting to be sent", this.status.pending));
        }
        lines.push(
            this.sync.transport === "agent"
                ? _t("Through the possync app on this terminal")
                : _t("Straight to the server (%s mode)", this.sync.mode)
        );
        return lines;
    }

    toggle(ev) {
        if (this.popover.isOpen) {
            this.popover.close();
        } else {
            this.popover.open(ev.currentTarget, {
                lines: this.details,
                failed: Boolean(this.status.cause),
            });
        }
    }
}
