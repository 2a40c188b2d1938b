"use strict";
// Swagger UI start-up, kept out of the HTML so the page needs no inline script (CSP).
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
