"""Operations plumbing shared by every process: metrics exposition, the MQTT client builder,
the quarantine and the version string. One implementation each; see README.md."""
