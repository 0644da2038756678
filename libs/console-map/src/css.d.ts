// Component styles are imported by the components (Vite bundles them; jest maps them to a stub).
declare module '*.css';
