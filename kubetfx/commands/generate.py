"""`kubetfx generate`: a synthetic e-commerce data set of any size (README, "Benchmarks")."""
import argparse

NAME = "generate"


def add_arguments(commands) -> None:
    generate = commands.add_parser(NAME, help="write a synthetic e-commerce data set of any size")
    generate.add_argument("--out", required=True, help="folder for interactions.csv, users.csv, items.csv")
    generate.add_argument("--interactions", type=int, default=100_000)
    generate.add_argument("--users", type=int, default=0, help="0: one per 50 interactions")
    generate.add_argument("--items", type=int, default=0, help="0: about one per 60 interactions")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--unfair-group", default="", help="an occupation whose users are served badly")
    generate.add_argument("--shift-feature", default="", choices=["", "age"], help="a user feature to shift")
    generate.add_argument("--shift-amount", type=float, default=15.0)
    generate.add_argument("--new-items", type=int, default=0, help="products that appear only late in the log")


def main(args: argparse.Namespace) -> int:
    from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate

    config = GeneratorConfig(interactions=args.interactions, users=args.users, items=args.items, seed=args.seed,
                             unfair_group=args.unfair_group, shift_feature=args.shift_feature,
                             shift_amount=args.shift_amount, new_items=args.new_items)
    counts = generate(args.out, config)
    print(f"wrote {counts['interactions']:,} interactions, {counts['users']:,} users, {counts['items']:,} items to {args.out}")
    return 0
