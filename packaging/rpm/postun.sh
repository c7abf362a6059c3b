# %postun of mcp-chat: what %systemd_postun_with_restart does. $1: 0 on removal, 1 or more
# on upgrade. The system user mcp-chat is kept, as Fedora's guidelines ask.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
    # Package upgrade, not uninstall: restart the service if it runs.
    if [ -x /usr/lib/systemd/systemd-update-helper ]; then
        /usr/lib/systemd/systemd-update-helper mark-restart-system-units mcp-chat.service || :
    else
        systemctl try-restart mcp-chat.service >/dev/null 2>&1 || :
    fi
fi
