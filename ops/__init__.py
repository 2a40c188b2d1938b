"""Operations plumbing shared by every process: metrics exposition (and, as they are folded in,
the MQTT client builder and the quarantine). One implementation each; see README.md."""
