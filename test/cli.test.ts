import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";

describe("lmforge CLI", () => {
  it("prints help listing its name", () => {
    const r = runCli(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage: lmforge");
  });
});
