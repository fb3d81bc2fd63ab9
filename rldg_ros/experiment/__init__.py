"""The RLDG experiment end to end (``rldg experiment rldg``) and its report (``rldg report``)."""
