// The cdk8s peer of tools/bench.py: one chart holding the ExternalSecrets the offline YAML view
// rendered (a JSON list in $OBJECTS), synthesised by `cdk8s synth` into dist/.
const fs = require("fs");
const { App, ApiObject, Chart } = require("cdk8s");

const app = new App();
const chart = new Chart(app, "vault-secrets");
JSON.parse(fs.readFileSync(process.env.OBJECTS, "utf8")).forEach((object, index) => {
  new ApiObject(chart, `object-${index}`, object);
});
app.synth();
