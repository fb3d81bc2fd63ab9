"""``rldg rl ...``: offline helpers around the RL graphs (training itself runs as ``rldg up train_rl``)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("rl", help="RL specialists: report on a run (train with 'rldg up train_rl', evaluate with "
                       "'rldg up eval_rl')")
    rsub = p.add_subparsers(dest="rl_command", metavar="STEP", required=True)
    s = rsub.add_parser("report", help="learning curves (PNG) + markdown summary of a train_rl run directory")
    s.add_argument("run_dir")
    s.add_argument("--eval", default=None, help="an eval_rl JSON report (report:=) to include")
    s.set_defaults(func=_report)


def _report(ns) -> int:
    from rldg_ros.rl.report import write_report

    md, png = write_report(ns.run_dir, ns.eval)
    print(md.read_text())
    print(f"wrote {md} and {png}")
    return 0
