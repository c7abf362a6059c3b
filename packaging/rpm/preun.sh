# %preun of mcp-chat: what %systemd_preun does. $1: 0 on removal, 1 or more on upgrade.
if [ "$1" -eq 0 ]; then
    # Package removal, not upgrade: disable and stop the service.
    if [ -x /usr/lib/systemd/systemd-update-helper ]; then
        /usr/lib/systemd/systemd-update-helper remove-system-units mcp-chat.service || :
    else
        systemctl --no-reload disable --now mcp-chat.service >/dev/null 2>&1 || :
    fi
fi
