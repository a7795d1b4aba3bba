"""The web domain: the end-user privacy dashboard and the auditor/DPO console. See docs/web.md;
governance/composition.py (`register_web`) wires it into the app."""
