import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  children: ReactNode;
  label?: string;
}

interface State {
  error: Error | null;
}

/** Shows a render error as an alert instead of a blank page. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('dicomfab UI error', error, info.componentStack);
  }

  render() {
    if (this.state.error) {
      return (
        <div className="alert alert-error boundary" role="alert">
          <h2>Something went wrong{this.props.label ? ` in ${this.props.label}` : ''}</h2>
          <p>{this.state.error.message || String(this.state.error)}</p>
          <button type="button" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}
