# %post of mcp-chat: the service account, then what %systemd_post does.
# $1: 1 on first install, 2 or more on upgrade.
if [ -x /usr/bin/systemd-sysusers ] || command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/lib/sysusers.d/mcp-chat.conf || :
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/mcp-chat.conf || :
fi
if [ "$1" -eq 1 ]; then
    # Initial installation: enable or not as the system's presets say.
    if [ -x /usr/lib/systemd/systemd-update-helper ]; then
        /usr/lib/systemd/systemd-update-helper install-system-units mcp-chat.service || :
    else
        systemctl --no-reload preset mcp-chat.service >/dev/null 2>&1 || :
    fi
fi
