"""A pipeline a TFX user composes from kubetfx's generic components: their data (already split, as
TFX's ExampleGen writes it), their schema, their module file and their EvalConfig; a model is pushed
only when TFX's Evaluator blesses it. README, "Compose your own pipeline", shows it line by line."""
from kfp import dsl

from kubetfx.components.evaluator import component as evaluator
from kubetfx.components.push import component as push
from kubetfx.components.train import component as train
from kubetfx.components.transform import component as transform


def create_pipeline(image: str, name: str = "tfx-classifier"):
    """Returns the pipeline function, every step on `image` (the kubetfx step image)."""
    transform_op, train_op = transform.build(image), train.build(image)
    evaluator_op, push_op = evaluator.build(image), push.build(image)

    @dsl.pipeline(name=name)
    def tfx_classifier(examples_uri: str, schema_uri: str, module_file: str, eval_config: str, serving_root: str,
                       train_steps: int = 300, eval_steps: int = 7):
        """Transform, train, evaluate with TFX's Evaluator, and push when blessed.

        Args:
            examples_uri: Split tf.Examples (Split-train/, Split-eval/), e.g. an ExampleGen output.
            schema_uri: Folder with schema.pbtxt (a SchemaGen output or a curated schema).
            module_file: The TFX module file: preprocessing_fn and run_fn(fn_args).
            eval_config: A tfma.EvalConfig (JSON or text proto) with the thresholds that bless.
            serving_root: Where blessed models are pushed, one folder per version and LATEST.
            train_steps: Training steps for run_fn.
            eval_steps: Evaluation steps for run_fn.
        """
        examples = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Dataset, reimport=False)
        schema = dsl.importer(artifact_uri=schema_uri, artifact_class=dsl.Artifact, reimport=False)
        transformed = transform_op(examples=examples.output, schema=schema.output, module_file=module_file,
                                   beam_pipeline_args=[])
        trained = train_op(transformed_examples=transformed.outputs["transformed_examples"],
                           transform_graph=transformed.outputs["transform_graph"], schema=schema.output,
                           module_file=module_file, train_steps=train_steps, eval_steps=eval_steps,
                           hyperparameters={}, custom_config={}, model_contract=False)
        evaluated = evaluator_op(model=trained.outputs["model"], examples=examples.output, eval_config=eval_config,
                                 beam_pipeline_args=[])
        with dsl.If(evaluated.outputs["Output"] == True):  # noqa: E712 (KFP's condition syntax)
            push_op(model=trained.outputs["model"], blessing=evaluated.outputs["blessing"],
                    serving_root=serving_root)

    return tfx_classifier
