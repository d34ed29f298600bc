import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectCacheMatchesFullForward, expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds } from "../helpers/parity.js";

const reference = JSON.parse(readFileSync(path.join(fixturesDir, "gpt2/reference.json"), "utf8"));

describe("GPT-2 parity with transformers", () => {
  it("logits, loss and every parameter's gradient", async () => {
    const model = await fixtureModel("gpt2");
    const ref = await readReference("gpt2");
    const ids = refIds(ref, "input_ids");
    const out = model.forward({ inputIds: ids, labels: ids });
    expectLogitsClose(out.logits, ref.get("logits")!);
    expectLossClose(out.loss, reference.cases.loss.loss);
    out.loss!.backward();
    expectGradsClose(model, ref);
  });
  it("KV-cache decoding equals the full forward pass", async () => {
    const model = await fixtureModel("gpt2");
    expectCacheMatchesFullForward(model, refIds(await readReference("gpt2"), "input_ids"));
  });
  it("save then load round-trips exactly", async () => {
    const model = await fixtureModel("gpt2");
    await expectSaveRoundTrip(model, { inputIds: [[1, 2, 3]] });
    expect(model.numParameters()).toBeGreaterThan(0);
  });
});
